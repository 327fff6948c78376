package domain

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestValidateLinkWeight(t *testing.T) {
	for _, w := range []float64{0, 1, 0.25, 1e300} {
		if err := ValidateLinkWeight(w); err != nil {
			t.Errorf("ValidateLinkWeight(%v) = %v", w, err)
		}
	}
	for _, w := range []float64{-0.5, math.NaN(), math.Inf(1), math.Inf(-1)} {
		if err := ValidateLinkWeight(w); !errors.Is(err, ErrInvalidWeight) {
			t.Errorf("ValidateLinkWeight(%v) = %v, want ErrInvalidWeight", w, err)
		}
	}
}

func TestNormalizeLinkType(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"empty_gets_default", "", DefaultLinkType, true},
		{"blank_gets_default", " \t ", DefaultLinkType, true},
		{"trims", "  causes ", "causes", true},
		{"accepts_max_length_in_characters", strings.Repeat("é", MaxLinkTypeLen), strings.Repeat("é", MaxLinkTypeLen), true},
		{"rejects_too_long", strings.Repeat("a", MaxLinkTypeLen+1), "", false},
		{"rejects_invalid_utf8", "a\xffb", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeLinkType(tt.in)
			if tt.ok != (err == nil) || got != tt.want {
				t.Fatalf("NormalizeLinkType(%q) = %q, %v", tt.in, got, err)
			}
			if err != nil && !errors.Is(err, ErrInvalidLinkType) {
				t.Fatalf("error %v does not wrap ErrInvalidLinkType", err)
			}
		})
	}
}

func TestLinkFromEvent(t *testing.T) {
	meta := testMeta()
	e := MemoriesLinked{EventMeta: meta, From: MustCoordinate(1), To: MustCoordinate(2), LinkType: "causes", Weight: 2.5}
	l := LinkFromEvent(e)
	if !l.From.Equal(e.From) || !l.To.Equal(e.To) || l.Type != "causes" || l.Weight != 2.5 || !l.CreatedAt.Equal(meta.OccurredAt) {
		t.Fatalf("link %+v", l)
	}
}
