package embedding

import (
	"context"
	"fmt"
	"math"

	"golang.org/x/crypto/blake2b"
)

// Blake2bTile is the original Python service's fallback embedder, kept for
// compatibility with vectors it wrote (model id "blake2b-tile/<dim>").
//
// It computes exactly what the original computed:
//
//	d = hashlib.blake2b(text.encode("utf-8")).digest()   # 64 bytes
//	v = np.frombuffer((d * k)[:dim], dtype=np.uint8).astype(np.float32)
//	v = v / np.linalg.norm(v)
//
// i.e. the 64-byte BLAKE2b-512 digest of the UTF-8 text (unkeyed), repeated
// to fill dim bytes, each byte taken as a number 0..255, L2-normalised. The
// result matches NumPy's to float32 rounding (NumPy accumulates the norm in
// float32, this in float64; the difference is at most a few ulps).
//
// It carries NO semantic similarity at all: any change to the text, one
// character or one space, gives an unrelated vector, and since every element
// is non-negative, unrelated texts still score a high cosine (around 0.75).
// Recall with it finds only exact text matches reliably. Never choose it for
// new data; use Hashing or a real model.
//
// Safe for concurrent use.
type Blake2bTile struct {
	dim int
}

var _ Embedder = (*Blake2bTile)(nil)

// NewBlake2bTile returns the BLAKE2b tiling embedder of dimension dim. It
// cannot fail: a dimension outside MinDim..MaxDim is clamped into that range
// (Dim reports the result). Use New, or ValidateDim first, to reject a bad
// configured dimension instead.
func NewBlake2bTile(dim int) *Blake2bTile {
	return &Blake2bTile{dim: clampDim(dim)}
}

// Model returns "blake2b-tile/<dim>".
func (b *Blake2bTile) Model() string { return ModelID(AlgorithmBlake2bTile, b.dim) }

// Dim returns the vector dimension.
func (b *Blake2bTile) Dim() int { return b.dim }

// Embed embeds each text; it fails only when ctx is done.
func (b *Blake2bTile) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("blake2b-tile embed: %w", err)
	}
	out := make([][]float32, len(texts))
	backing := make([]float32, len(texts)*b.dim)
	for i, t := range texts {
		v := backing[i*b.dim : (i+1)*b.dim : (i+1)*b.dim]
		blake2bTile(v, t)
		out[i] = v
	}
	return out, nil
}

// blake2bTile fills v with the tiled, normalised digest of text.
func blake2bTile(v []float32, text string) {
	d := blake2b.Sum512([]byte(text))
	var digestSq float64
	for _, x := range d {
		digestSq += float64(x) * float64(x)
	}
	// The sum of squares is an integer below 2^53: exact in float64.
	full, rest := len(v)/len(d), len(v)%len(d)
	sum := float64(full) * digestSq
	for _, x := range d[:rest] {
		sum += float64(x) * float64(x)
	}
	if sum == 0 { // all-zero digest: unreachable in practice; keep zeros
		return
	}
	norm := math.Sqrt(sum)
	for i := range v {
		v[i] = float32(float64(d[i%len(d)]) / norm)
	}
}
