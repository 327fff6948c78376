package embedding

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"unicode"
	"unicode/utf8"
)

// Hashing is the default, model-free embedder (model id "hash-v1/<dim>").
//
// The algorithm, fixed by the model id (any change needs a new algorithm name):
//
//  1. Tokenise: a word is a maximal run of Unicode letters, digits and
//     combining marks (unicode.IsLetter, IsDigit, IsMark); everything else
//     (spaces, punctuation, symbols, invalid UTF-8) separates words. Each
//     rune is lowercased with unicode.ToLower. No stemming, no stop words,
//     no Unicode normalisation.
//  2. Features of each word w (n runes):
//     - the word itself, with weight 1;
//     - the character 3-grams of "<" + w + ">" (n of them; '<' and '>' mark
//     the word boundaries and cannot occur inside a word), each with weight
//     1/sqrt(2n), so that a word's 3-grams together carry half the squared
//     weight of the word feature whatever its length: long words do not
//     drown short ones, and words sharing most 3-grams (typos, inflections)
//     still overlap.
//  3. Hash: FNV-1a 64 over a one-byte feature kind ('w' word, 'g' 3-gram)
//     followed by the feature's UTF-8 bytes, then the MurmurHash3 fmix64
//     finaliser. Bucket = floor(hash·dim / 2⁶⁴) (the high 64 bits of the
//     128-bit product, uniform over 0..dim−1 without a division); sign =
//     the lowest bit of the hash (set → −1). Feature values are summed into
//     their buckets (repeated words count again).
//  4. L2-normalise.
//
// A text with no word (empty, only spaces or punctuation) embeds as the unit
// vector of the reserved empty-text feature (kind 'e', no bytes), and so
// does a text whose features all cancel out (signed buckets summing to
// exactly zero, which happens in very small dimensions). So every vector
// Hashing returns has unit norm and passes ValidateVector; all word-less
// texts are identical to each other and nearly orthogonal to the rest.
//
// Hashing is deterministic across processes and platforms, and safe for
// concurrent use. Across Go versions it is deterministic too, except for
// code points that a newer Unicode version (in Go's unicode tables) first
// assigns or reclassifies as letters, digits or marks, or gives a new
// lowercase mapping.
type Hashing struct {
	dim int
}

var _ Embedder = (*Hashing)(nil)

// NewHashing returns the feature-hashing embedder of dimension dim. It
// cannot fail: a dimension outside MinDim..MaxDim is clamped into that range
// (Dim reports the result). Use New, or ValidateDim first, to reject a bad
// configured dimension instead.
func NewHashing(dim int) *Hashing {
	return &Hashing{dim: clampDim(dim)}
}

// Model returns "hash-v1/<dim>".
func (h *Hashing) Model() string { return ModelID(AlgorithmHashing, h.dim) }

// Dim returns the vector dimension.
func (h *Hashing) Dim() int { return h.dim }

// Embed embeds each text; it fails only when ctx is done (checked every
// 256 texts).
func (h *Hashing) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("hashing embed: %w", err)
	}
	out := make([][]float32, len(texts))
	backing := make([]float32, len(texts)*h.dim)
	var st hashState
	for i, t := range texts {
		if i%256 == 255 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("hashing embed: %w", err)
			}
		}
		v := backing[i*h.dim : (i+1)*h.dim : (i+1)*h.dim]
		st.embed(v, t)
		out[i] = v
	}
	return out, nil
}

// Vector embeds one text into a new vector.
func (h *Hashing) Vector(text string) []float32 {
	v := make([]float32, h.dim)
	var st hashState
	st.embed(v, text)
	return v
}

// Feature kinds, the first byte hashed for each feature.
const (
	kindWord  = 'w'
	kindGram  = 'g'
	kindEmpty = 'e'
)

// Word-boundary markers around a word for its 3-grams.
const (
	wordStart = '<'
	wordEnd   = '>'
)

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// hashState is the scratch space of one embedding call.
type hashState struct {
	word []rune // '<' + lowercased word + '>'
}

// embed writes the unit vector of text into v (len(v) = dim, zeroed).
func (s *hashState) embed(v []float32, text string) {
	dim := uint64(len(v))
	if s.word == nil {
		s.word = make([]rune, 0, 64)
	}
	words := 0
	s.word = append(s.word[:0], wordStart)
	for _, r := range text {
		if isWordRune(r) {
			s.word = append(s.word, toLower(r))
			continue
		}
		if len(s.word) > 1 {
			s.addWord(v, dim)
			words++
			s.word = append(s.word[:0], wordStart)
		}
	}
	if len(s.word) > 1 {
		s.addWord(v, dim)
		words++
	}
	if words > 0 {
		Normalize(v)
		if v[0] != 0 || slices.ContainsFunc(v[1:], func(x float32) bool { return x != 0 }) {
			return
		}
		// Every feature cancelled out (possible in small dimensions).
	}
	add(v, dim, finish(fnvByte(fnvOffset64, kindEmpty)), 1)
}

// addWord adds the features of the word in s.word (with its start marker,
// without its end marker).
func (s *hashState) addWord(v []float32, dim uint64) {
	w := s.word[1:]
	h := uint64(fnvOffset64)
	h = fnvByte(h, kindWord)
	for _, r := range w {
		h = fnvRune(h, r)
	}
	add(v, dim, finish(h), 1)

	s.word = append(s.word, wordEnd)
	grams := len(s.word) - 2 // = len(w)
	gw := float32(1 / math.Sqrt(2*float64(grams)))
	for i := 0; i < grams; i++ {
		h := fnvByte(fnvOffset64, kindGram)
		h = fnvRune(h, s.word[i])
		h = fnvRune(h, s.word[i+1])
		h = fnvRune(h, s.word[i+2])
		add(v, dim, finish(h), gw)
	}
}

// add adds weight w, signed by the lowest bit of h, to bucket
// floor(h·dim / 2⁶⁴).
func add(v []float32, dim, h uint64, w float32) {
	if h&1 != 0 {
		w = -w
	}
	bucket, _ := bits.Mul64(h, dim)
	v[bucket] += w
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

func toLower(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(r)
}

func fnvByte(h uint64, b byte) uint64 {
	h ^= uint64(b)
	return h * fnvPrime64
}

// fnvRune hashes the UTF-8 encoding of r.
func fnvRune(h uint64, r rune) uint64 {
	if r >= 0 && r < utf8.RuneSelf {
		return fnvByte(h, byte(r))
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	for _, b := range buf[:n] {
		h = fnvByte(h, b)
	}
	return h
}

// finish is the MurmurHash3 fmix64 finaliser: FNV-1a alone mixes its last
// bytes poorly into the high bits the bucket is taken from and into the
// low bit the sign is taken from.
func finish(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
