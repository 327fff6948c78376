package domain

import (
	"strings"
	"testing"
)

// Coordinates as clients send them: the short form, a typical 3-d
// benchmark coordinate, spaces and exponents, and the longest allowed.
var benchCoordinates = []struct{ name, in string }{
	{"3d_integers", "1,2,3"},
	{"3d_decimals", "12,-523.154,1.843"},
	{"spaces_and_exponent", " 1e3 , 2.5 ,, -0 "},
	{"64d", strings.TrimSuffix(strings.Repeat("123.456,", MaxCoordinateDims), ",")},
}

func BenchmarkParseCoordinate(b *testing.B) {
	for _, bc := range benchCoordinates {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				if _, err := ParseCoordinate(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkKey(b *testing.B) {
	for _, bc := range benchCoordinates {
		c, err := ParseCoordinate(bc.in)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = c.Key()
			}
		})
	}
}
