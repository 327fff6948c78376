package embedding

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
)

func TestHashing(t *testing.T) {
	h := NewHashing(384)

	t.Run("model_id_names_algorithm_and_dim", func(t *testing.T) {
		if got := h.Model(); got != "hash-v1/384" {
			t.Fatalf("Model() = %q, want hash-v1/384", got)
		}
		if h.Dim() != 384 {
			t.Fatalf("Dim() = %d", h.Dim())
		}
	})

	t.Run("lexical_overlap_is_closer_than_unrelated_text", func(t *testing.T) {
		a := embedOne(t, h, "the cat sat on the mat")
		near := embedOne(t, h, "a cat on a mat")
		far := embedOne(t, h, "stock market prices")
		cNear, cFar := cosine(a, near), cosine(a, far)
		if cNear <= cFar || cNear < 0.3 {
			t.Fatalf("cos(near) = %.3f, cos(far) = %.3f: want near clearly above far", cNear, cFar)
		}
	})

	t.Run("question_matches_its_fact", func(t *testing.T) {
		fact := embedOne(t, h, "Paris is the capital of France")
		q := embedOne(t, h, "What is the capital of France?")
		other := embedOne(t, h, "my dog likes chewing bones")
		if cosine(fact, q) <= cosine(fact, other) {
			t.Fatalf("cos(fact,q) = %.3f <= cos(fact,other) = %.3f", cosine(fact, q), cosine(fact, other))
		}
	})

	t.Run("typo_keeps_positive_similarity_through_ngrams", func(t *testing.T) {
		if c := cosine(embedOne(t, h, "recieve"), embedOne(t, h, "receive")); c <= 0.05 {
			t.Fatalf("cos(recieve, receive) = %.3f, want > 0.05", c)
		}
	})

	t.Run("same_text_gives_same_vector", func(t *testing.T) {
		a := embedOne(t, h, "Deterministic across calls")
		b := NewHashing(384).Vector("Deterministic across calls")
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("element %d differs: %v vs %v", i, a[i], b[i])
			}
		}
	})

	t.Run("case_and_punctuation_do_not_matter", func(t *testing.T) {
		if c := cosine(embedOne(t, h, "Hello, World!"), embedOne(t, h, "hello world")); c < 0.999999 {
			t.Fatalf("cos = %v, want 1", c)
		}
	})

	t.Run("vectors_have_unit_norm", func(t *testing.T) {
		for _, s := range []string{"a", "the cat", strings.Repeat("word ", 1000), "Ünïcödé 記憶 42", "x\u0301y"} {
			if n := norm(embedOne(t, h, s)); math.Abs(n-1) > 1e-5 {
				t.Fatalf("norm(%q) = %v", s, n)
			}
		}
	})

	t.Run("wordless_text_is_the_reserved_unit_vector", func(t *testing.T) {
		empty := embedOne(t, h, "")
		for _, s := range []string{" ", "!!! ...", "\xff\xfe"} {
			v := embedOne(t, h, s)
			if c := cosine(empty, v); c < 0.999999 {
				t.Fatalf("cos(empty, %q) = %v, want 1", s, c)
			}
		}
		if n := norm(empty); math.Abs(n-1) > 1e-6 {
			t.Fatalf("norm = %v", n)
		}
		if err := ValidateVector(empty, 384); err != nil {
			t.Fatalf("empty-text vector fails validation: %v", err)
		}
		if c := cosine(empty, embedOne(t, h, "hello")); math.Abs(c) > 0.5 {
			t.Fatalf("cos(empty, hello) = %v, want near 0", c)
		}
	})

	t.Run("batch_keeps_order_and_separate_vectors", func(t *testing.T) {
		texts := []string{"one", "two", "three"}
		vs, err := h.Embed(context.Background(), texts)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range texts {
			if c := cosine(vs[i], h.Vector(s)); c < 0.999999 {
				t.Fatalf("vector %d is not %q", i, s)
			}
		}
		vs[0] = append(vs[0], 1) // must not overwrite vs[1]
		if cosine(vs[1], h.Vector("two")) < 0.999999 {
			t.Fatal("appending to one vector changed the next")
		}
	})

	t.Run("done_context_is_an_error", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := h.Embed(ctx, []string{"x"}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})

	t.Run("out_of_range_dimension_is_clamped", func(t *testing.T) {
		if d := NewHashing(0).Dim(); d != MinDim {
			t.Fatalf("Dim = %d", d)
		}
		if d := NewHashing(MaxDim + 1).Dim(); d != MaxDim {
			t.Fatalf("Dim = %d", d)
		}
	})

	t.Run("safe_for_concurrent_use", func(t *testing.T) {
		want := h.Vector("concurrent text")
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 50 {
					v := embedOne(t, h, "concurrent text")
					if cosine(v, want) < 0.999999 {
						t.Error("concurrent result differs")
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

// TestHashingGolden pins hash-v1: if it fails, the algorithm changed and
// every stored hash-v1 vector no longer matches new queries. Keep the
// algorithm, or name the new one hash-v2.
func TestHashingGolden(t *testing.T) {
	h := NewHashing(16)
	cases := map[string][]float32{
		"Hello, World":  {0, 0, 0, 0, 0, 0.19611613, 0, 0, -0.19611613, 0.6201737, -0.19611613, -0.6201737, 0.19611613, 0.19611613, 0.19611613, 0},
		"":              {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"Ünïcödé 記憶 42": {0.2466818, 0, 0, 0, -0.26371393, -0.13185696, -0.4933636, 0, -0.13185696, 0, -0.4933636, 0.37853876, 0.3615066, -0.11482483, 0, -0.2466818},
	}
	for text, want := range cases {
		got := h.Vector(text)
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-6 {
				t.Fatalf("%q: element %d = %v, want %v (hash-v1 changed)", text, i, got[i], want[i])
			}
		}
	}
}

func BenchmarkHashing(b *testing.B) {
	text := "The user prefers dark roast coffee in the morning, asked to be reminded " +
		"about the quarterly report on Friday, and mentioned that the meeting with " +
		"the design team moved to Thursday."
	h := NewHashing(384)
	ctx := context.Background()
	in := []string{text}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Embed(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

func TestHashingTinyDimensions(t *testing.T) {
	// In dimension 1 and 2 the signed features of short words often cancel
	// out; the result must still be a valid unit vector.
	for _, dim := range []int{1, 2, 3} {
		h := NewHashing(dim)
		for _, s := range []string{"ab", "ef", "qr", "a b", "ab ab", "hello"} {
			v := h.Vector(s)
			if err := ValidateVector(v, dim); err != nil {
				t.Fatalf("dim %d %q: %v", dim, s, err)
			}
			if n := norm(v); math.Abs(n-1) > 1e-6 {
				t.Fatalf("dim %d %q: norm %v", dim, s, n)
			}
		}
	}
}
