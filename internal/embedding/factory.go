package embedding

import (
	"errors"
	"fmt"
)

// Embedder kinds accepted by New (the configured embedder kind).
const (
	KindHash    = "hash"    // Hashing, the default
	KindBlake2b = "blake2b" // Blake2bTile, the original's digest tiling
	KindOpenAI  = "openai"  // OpenAI, an OpenAI-compatible HTTP service
)

// ErrUnknownKind is returned by New for a kind it does not know.
var ErrUnknownKind = errors.New("unknown embedder kind")

// New builds the embedder of kind ("" means KindHash) with dimension dim,
// which must be in MinDim..MaxDim. oc is used only for KindOpenAI: its Dim,
// when 0, is set to dim; when set, it must equal dim.
func New(kind string, dim int, oc OpenAIConfig) (Embedder, error) {
	if err := ValidateDim(dim); err != nil {
		return nil, fmt.Errorf("embedder %q: %w", kind, err)
	}
	switch kind {
	case "", KindHash:
		return NewHashing(dim), nil
	case KindBlake2b:
		return NewBlake2bTile(dim), nil
	case KindOpenAI:
		if oc.Dim == 0 {
			oc.Dim = dim
		} else if oc.Dim != dim {
			return nil, fmt.Errorf("embedder %q: %w: model dimension %d differs from vector dimension %d", kind, ErrInvalidDim, oc.Dim, dim)
		}
		return NewOpenAI(oc)
	default:
		return nil, fmt.Errorf("%w %q: want %q, %q or %q", ErrUnknownKind, kind, KindHash, KindBlake2b, KindOpenAI)
	}
}
