package embedding

import (
	"encoding/json"
	"math"
	"testing"
)

// FuzzHashing: any text embeds without panicking into a unit vector (the
// word-less reserved vector included).
func FuzzHashing(f *testing.F) {
	for _, s := range []string{"", "the cat sat on the mat", "recieve", "Ünïcödé 記憶 42", "\xff\xfe", "x\u0301", "a-b_c.d", "💾💾"} {
		f.Add(s, uint16(384))
	}
	f.Fuzz(func(t *testing.T, text string, d uint16) {
		dim := int(d)%1024 + 1
		v := NewHashing(dim).Vector(text)
		if len(v) != dim {
			t.Fatalf("len %d, want %d", len(v), dim)
		}
		if n := norm(v); math.Abs(n-1) > 1e-4 {
			t.Fatalf("norm(%q) = %v", text, n)
		}
		if err := ValidateVector(v, dim); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzTextOf: any JSON object gives a deterministic text, and embedding it
// gives a unit vector.
func FuzzTextOf(f *testing.F) {
	for _, s := range []string{`{}`, `{"text":"hi"}`, `{"a":{"b":[1,"x",null,true]},"timestamp":1}`, `{"text":5,"title":" "}`, `{"a":[[[[]]]]}`} {
		f.Add(s)
	}
	h := NewHashing(64)
	f.Fuzz(func(t *testing.T, js string) {
		var p, q map[string]any
		if json.Unmarshal([]byte(js), &p) != nil {
			return
		}
		_ = json.Unmarshal([]byte(js), &q)
		a, b := TextOf(p), TextOf(q)
		if a != b {
			t.Fatalf("not deterministic: %q vs %q", a, b)
		}
		if n := norm(h.Vector(a)); math.Abs(n-1) > 1e-4 {
			t.Fatalf("norm = %v", n)
		}
	})
}
