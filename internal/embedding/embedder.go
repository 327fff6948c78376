// Package embedding turns text into vectors for similarity recall.
//
// Three embedders implement [Embedder]:
//
//   - [Hashing], the model-free default: signed feature hashing of words and
//     character 3-grams, so that lexical overlap gives cosine similarity.
//   - [Blake2bTile], the original Python service's BLAKE2b digest tiling,
//     kept only so that vectors written by the original can be read back; it
//     carries no semantic similarity at all.
//   - [OpenAI], a client of any OpenAI-compatible /v1/embeddings endpoint
//     (Ollama, vLLM, TEI, OpenAI) with batching, timeouts and retries.
//
// Clients may also send their own vectors; [ValidateVector] checks them and
// [Normalize] scales them to unit length. [TextOf] decides which text of a
// memory payload is embedded.
//
// Every embedder names its vectors with a model id (see [ModelID]). Vectors of
// different model ids are never mixed in one index: the read side refuses to
// search an index built by another model, so the id format and the algorithm
// behind each id are a storage contract.
package embedding

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Embedder turns texts into vectors of a fixed dimension.
//
// Implementations are safe for concurrent use. Embed returns exactly one
// vector per input text, in input order, each of length Dim(); it either
// returns all vectors or an error, never a partial result.
type Embedder interface {
	// Model is the stable model id of the vectors, e.g. "hash-v1/384".
	// See ModelID for the format.
	Model() string
	// Dim is the length of every vector Embed returns.
	Dim() int
	// Embed embeds texts, one vector per text, in order.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// MinDim and MaxDim bound the dimension accepted by every constructor and
// by ValidateVector.
const (
	MinDim = 1
	MaxDim = 65536
)

// Model id algorithms. A model id is "<algorithm>/<dim>" (see ModelID).
//
// Changing what any algorithm computes — tokenisation, weights, hash function,
// normalisation — must come with a new algorithm name (hash-v2, …): stored
// vectors are compared with freshly embedded queries, and the model id is the
// only thing that tells the read side that an index no longer matches.
const (
	// AlgorithmHashing names the feature-hashing embedder (Hashing).
	AlgorithmHashing = "hash-v1"
	// AlgorithmBlake2bTile names the original's BLAKE2b tiling (Blake2bTile).
	AlgorithmBlake2bTile = "blake2b-tile"
	// OpenAIPrefix starts the algorithm of an OpenAI-compatible model:
	// "openai:" + the model name as sent to the server.
	OpenAIPrefix = "openai:"
)

// ModelID returns the model id "<algorithm>/<dim>", e.g. "hash-v1/384",
// "blake2b-tile/768" or "openai:nomic-embed-text/768". The algorithm may
// itself contain '/' (e.g. "openai:BAAI/bge-small-en-v1.5"); the dimension is
// always after the last '/'.
func ModelID(algorithm string, dim int) string {
	return algorithm + "/" + strconv.Itoa(dim)
}

// OpenAIModelID returns the model id of an OpenAI-compatible model:
// "openai:<model>/<dim>".
func OpenAIModelID(model string, dim int) string {
	return ModelID(OpenAIPrefix+model, dim)
}

// ErrInvalidModelID is returned by ParseModelID.
var ErrInvalidModelID = errors.New("invalid embedding model id")

// ParseModelID splits a model id into its algorithm and dimension. The
// dimension is the part after the last '/' and must be in MinDim..MaxDim.
func ParseModelID(id string) (algorithm string, dim int, err error) {
	i := strings.LastIndexByte(id, '/')
	if i <= 0 {
		return "", 0, fmt.Errorf("%w %q: want <algorithm>/<dim>", ErrInvalidModelID, id)
	}
	dim, convErr := strconv.Atoi(id[i+1:])
	if convErr != nil || dim < MinDim || dim > MaxDim {
		return "", 0, fmt.Errorf("%w %q: dimension must be an integer in %d..%d", ErrInvalidModelID, id, MinDim, MaxDim)
	}
	return id[:i], dim, nil
}

// ErrInvalidDim is wrapped by every error about a dimension out of
// MinDim..MaxDim given to a constructor.
var ErrInvalidDim = errors.New("invalid embedding dimension")

// ValidateDim reports whether dim is in MinDim..MaxDim.
func ValidateDim(dim int) error {
	if dim < MinDim || dim > MaxDim {
		return fmt.Errorf("%w %d: must be in %d..%d", ErrInvalidDim, dim, MinDim, MaxDim)
	}
	return nil
}

// clampDim clamps dim into MinDim..MaxDim.
func clampDim(dim int) int {
	return min(max(dim, MinDim), MaxDim)
}

// Errors of embedders that call a remote model, classified for the APIs.
var (
	// ErrUnavailable: the embedding service could not be reached or kept
	// failing (network errors, timeouts, 429 and 5xx after the last retry).
	// The APIs answer 503.
	ErrUnavailable = errors.New("embedding service unavailable")
	// ErrBadResponse: the service answered 2xx with something unusable —
	// undecodable body, wrong number of vectors, wrong dimension, non-finite
	// values. Retrying does not help; the APIs answer 502.
	ErrBadResponse = errors.New("bad embedding response")
	// ErrRejected: the service refused the request with a 4xx other than 429
	// (bad API key, unknown model, input too long). Not retried; usually a
	// configuration problem. The APIs answer 502.
	ErrRejected = errors.New("embedding request rejected")
)
