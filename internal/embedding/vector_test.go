package embedding

import (
	"errors"
	"math"
	"testing"
)

func TestValidateVector(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	cases := []struct {
		name   string
		v      []float32
		dim    int
		reason string // "" means valid
	}{
		{"accepts_finite_vector", []float32{0.1, -2, 0}, 3, ""},
		{"accepts_unnormalised_vector", []float32{3, 4}, 2, ""},
		{"rejects_short_vector", []float32{1, 2}, 3, "dimension mismatch"},
		{"rejects_long_vector", []float32{1, 2, 3, 4}, 3, "dimension mismatch"},
		{"rejects_empty_vector", nil, 3, "dimension mismatch"},
		{"rejects_nan_element", []float32{1, nan, 3}, 3, "not finite"},
		{"rejects_infinite_element", []float32{-inf, 1, 1}, 3, "not finite"},
		{"rejects_zero_vector", []float32{0, 0, 0}, 3, "all zero"},
		{"rejects_invalid_dimension", nil, 0, "invalid dimension"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateVector(tc.v, tc.dim)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ve *VectorError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidVector) {
				t.Fatalf("err = %v, want *VectorError wrapping ErrInvalidVector", err)
			}
			if ve.Reason != tc.reason {
				t.Fatalf("reason = %q, want %q (%v)", ve.Reason, tc.reason, err)
			}
		})
	}
	t.Run("reports_index_of_non_finite_element", func(t *testing.T) {
		var ve *VectorError
		if err := ValidateVector([]float32{1, 2, nan}, 3); !errors.As(err, &ve) || ve.Index != 2 {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestNormalize(t *testing.T) {
	t.Run("scales_to_unit_norm", func(t *testing.T) {
		v := []float32{3, 4}
		Normalize(v)
		if math.Abs(float64(v[0])-0.6) > 1e-7 || math.Abs(float64(v[1])-0.8) > 1e-7 {
			t.Fatalf("v = %v", v)
		}
	})
	t.Run("handles_extreme_magnitudes", func(t *testing.T) {
		for _, x := range []float32{math.MaxFloat32, 1e-40} {
			v := []float32{x, x, x, x}
			Normalize(v)
			if n := norm(v); math.Abs(n-1) > 1e-6 {
				t.Fatalf("x = %v: norm = %v, v = %v", x, n, v)
			}
		}
	})
	t.Run("leaves_zero_vector_unchanged", func(t *testing.T) {
		v := []float32{0, 0}
		Normalize(v)
		if v[0] != 0 || v[1] != 0 {
			t.Fatalf("v = %v", v)
		}
	})
	t.Run("leaves_non_finite_vector_unchanged", func(t *testing.T) {
		v := []float32{float32(math.Inf(1)), 1}
		Normalize(v)
		if v[1] != 1 {
			t.Fatalf("v = %v", v)
		}
	})
}
