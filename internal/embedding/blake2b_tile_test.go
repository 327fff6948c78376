package embedding

import (
	"math"
	"testing"
)

// The reference values were computed with the original's code:
//
//	d = hashlib.blake2b(text.encode("utf-8")).digest()
//	v = np.frombuffer((d * k)[:dim], dtype=np.uint8).astype(np.float32)
//	v = v / np.linalg.norm(v)
func TestBlake2bTileMatchesOriginal(t *testing.T) {
	cases := []struct {
		name  string
		text  string
		dim   int
		first []float32
		last  []float32
	}{
		{
			name: "hello_world_dim_8", text: "hello world", dim: 8,
			first: []float32{0.00488485349342227, 0.0683879479765892, 0.5788551568984985, 0.3297276198863983, 0.37369129061698914, 0.10013949871063232, 0.2637820839881897, 0.5764127373695374},
		},
		{
			name: "hello_world_dim_768", text: "hello world", dim: 768,
			first: []float32{0.00047721678856760263, 0.0066810352727770805, 0.05655018985271454, 0.03221213445067406, 0.03650708496570587, 0.009782944805920124, 0.025769706815481186, 0.056311581283807755},
			last:  []float32{0.04485837742686272, 0.030303267762064934, 0.0496305488049984},
		},
		{
			name: "partial_tile_dim_100", text: "hello world", dim: 100,
			first: []float32{0.001358252833597362, 0.019015539437532425, 0.16095297038555145, 0.091682069003582, 0.10390634834766388, 0.027844183146953583, 0.07334565371274948, 0.16027383506298065},
			last:  []float32{0.0611213780939579, 0.002037379425019026, 0.08421167731285095},
		},
		{
			name: "utf8_text_dim_8", text: "héllo wörld — 記憶", dim: 8,
			first: []float32{0.4664251208305359, 0.22745423018932343, 0.13532087206840515, 0.5614376664161682, 0.10077086091041565, 0.521129310131073, 0.005758334882557392, 0.3397417664527893},
		},
		{
			name: "empty_text_dim_8", text: "", dim: 8,
			first: []float32{0.38150838017463684, 0.3369990587234497, 0.0063584730960428715, 0.785271406173706, 0.20982961356639862, 0.0031792365480214357, 0.28295204043388367, 0.00953770987689495},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := NewBlake2bTile(tc.dim)
			v := embedOne(t, e, tc.text)
			check := func(off int, want []float32) {
				for i, w := range want {
					if got := v[off+i]; math.Abs(float64(got-w)) > 1e-6*math.Max(1, float64(w)) {
						t.Fatalf("v[%d] = %v, want %v", off+i, got, w)
					}
				}
			}
			check(0, tc.first)
			check(tc.dim-len(tc.last), tc.last)
			if n := norm(v); math.Abs(n-1) > 1e-6 {
				t.Fatalf("norm = %v", n)
			}
		})
	}
}

func TestBlake2bTile(t *testing.T) {
	e := NewBlake2bTile(768)
	t.Run("model_id_names_algorithm_and_dim", func(t *testing.T) {
		if got := e.Model(); got != "blake2b-tile/768" {
			t.Fatalf("Model() = %q", got)
		}
	})
	t.Run("digest_repeats_every_64_elements", func(t *testing.T) {
		v := embedOne(t, e, "tile")
		for i := 64; i < len(v); i++ {
			if v[i] != v[i-64] {
				t.Fatalf("v[%d] != v[%d]", i, i-64)
			}
		}
	})
	t.Run("carries_no_semantic_similarity", func(t *testing.T) {
		// One changed character is as far as an unrelated text: the high
		// baseline cosine comes from all elements being non-negative.
		a, b := embedOne(t, e, "the cat sat on the mat"), embedOne(t, e, "the cat sat on the mat.")
		if c := cosine(a, b); c > 0.9 {
			t.Fatalf("cos = %v: unexpectedly similar", c)
		}
	})
}
