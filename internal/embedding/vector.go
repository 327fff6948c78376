package embedding

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalidVector is wrapped by every *VectorError. A client-supplied vector
// that fails ValidateVector is a validation error: the APIs answer 422.
var ErrInvalidVector = errors.New("invalid vector")

// VectorError reports why a vector was rejected.
type VectorError struct {
	Reason string // "dimension mismatch", "not finite", "all zero", "invalid dimension"
	Index  int    // offending element for "not finite", else -1
	Got    int    // length of the vector
	Want   int    // expected dimension
}

func (e *VectorError) Error() string {
	switch {
	case e.Index >= 0:
		return fmt.Sprintf("invalid vector: %s at index %d", e.Reason, e.Index)
	case e.Reason == "dimension mismatch":
		return fmt.Sprintf("invalid vector: dimension mismatch: got %d, want %d", e.Got, e.Want)
	default:
		return "invalid vector: " + e.Reason
	}
}

func (e *VectorError) Unwrap() error { return ErrInvalidVector }

// ValidateVector checks a vector supplied by a client for an index of
// dimension dim: its length must equal dim, every element must be finite and
// at least one must be non-zero (a zero vector has no direction, so cosine
// similarity with it is undefined). It returns a *VectorError wrapping
// ErrInvalidVector. It does not normalise; see Normalize.
func ValidateVector(v []float32, dim int) error {
	if dim < MinDim || dim > MaxDim {
		return &VectorError{Reason: "invalid dimension", Index: -1, Got: len(v), Want: dim}
	}
	if len(v) != dim {
		return &VectorError{Reason: "dimension mismatch", Index: -1, Got: len(v), Want: dim}
	}
	nonZero := false
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return &VectorError{Reason: "not finite", Index: i, Got: len(v), Want: dim}
		}
		if x != 0 {
			nonZero = true
		}
	}
	if !nonZero {
		return &VectorError{Reason: "all zero", Index: -1, Got: len(v), Want: dim}
	}
	return nil
}

// Normalize scales v in place to unit L2 norm. The norm is computed in
// float64, so very large or very small finite elements do not overflow or
// underflow. A zero vector, or one holding a non-finite element, is left
// unchanged.
func Normalize(v []float32) {
	var sum float64
	for _, x := range v {
		f := float64(x)
		sum += float64(f * f) // the conversion forbids a fused multiply-add: same result on every platform
	}
	if sum == 0 || math.IsNaN(sum) || math.IsInf(sum, 0) {
		return
	}
	scale(v, math.Sqrt(sum))
}

// scale divides every element of v by norm (> 0).
func scale(v []float32, norm float64) {
	inv := 1 / norm
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
}
