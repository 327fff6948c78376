package embedding

import (
	"errors"
	"testing"
)

func TestModelID(t *testing.T) {
	t.Run("formats_algorithm_and_dim", func(t *testing.T) {
		for _, tc := range []struct{ got, want string }{
			{ModelID(AlgorithmHashing, 384), "hash-v1/384"},
			{ModelID(AlgorithmBlake2bTile, 768), "blake2b-tile/768"},
			{OpenAIModelID("nomic-embed-text", 768), "openai:nomic-embed-text/768"},
			{OpenAIModelID("BAAI/bge-small-en-v1.5", 384), "openai:BAAI/bge-small-en-v1.5/384"},
		} {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		}
	})
	t.Run("parses_dim_after_last_slash", func(t *testing.T) {
		alg, dim, err := ParseModelID("openai:BAAI/bge-small-en-v1.5/384")
		if err != nil || alg != "openai:BAAI/bge-small-en-v1.5" || dim != 384 {
			t.Fatalf("got %q %d %v", alg, dim, err)
		}
	})
	t.Run("round_trips_every_embedder", func(t *testing.T) {
		for _, e := range []Embedder{NewHashing(384), NewBlake2bTile(768)} {
			_, dim, err := ParseModelID(e.Model())
			if err != nil || dim != e.Dim() {
				t.Fatalf("%s: dim %d err %v", e.Model(), dim, err)
			}
		}
	})
	for _, bad := range []string{"", "hash-v1", "/384", "hash-v1/", "hash-v1/0", "hash-v1/65537", "hash-v1/x"} {
		t.Run("rejects_"+bad, func(t *testing.T) {
			if _, _, err := ParseModelID(bad); !errors.Is(err, ErrInvalidModelID) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	oc := OpenAIConfig{BaseURL: "http://localhost:11434/v1", Model: "nomic-embed-text"}
	cases := []struct {
		name, kind string
		dim        int
		oc         OpenAIConfig
		model      string
		err        error
	}{
		{"defaults_to_hash", "", 384, OpenAIConfig{}, "hash-v1/384", nil},
		{"builds_hash", KindHash, 64, OpenAIConfig{}, "hash-v1/64", nil},
		{"builds_blake2b", KindBlake2b, 768, OpenAIConfig{}, "blake2b-tile/768", nil},
		{"builds_openai_with_dim", KindOpenAI, 768, oc, "openai:nomic-embed-text/768", nil},
		{"rejects_zero_dim", KindHash, 0, OpenAIConfig{}, "", ErrInvalidDim},
		{"rejects_huge_dim", KindHash, MaxDim + 1, OpenAIConfig{}, "", ErrInvalidDim},
		{"accepts_max_dim", KindHash, MaxDim, OpenAIConfig{}, "hash-v1/65536", nil},
		{"rejects_unknown_kind", "word2vec", 384, OpenAIConfig{}, "", ErrUnknownKind},
		{"rejects_conflicting_openai_dim", KindOpenAI, 768, OpenAIConfig{BaseURL: oc.BaseURL, Model: oc.Model, Dim: 384}, "", ErrInvalidDim},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(tc.kind, tc.dim, tc.oc)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Model() != tc.model || e.Dim() != tc.dim {
				t.Fatalf("got %s dim %d", e.Model(), e.Dim())
			}
		})
	}
	t.Run("rejects_invalid_openai_config", func(t *testing.T) {
		if _, err := New(KindOpenAI, 768, OpenAIConfig{}); err == nil {
			t.Fatal("want error for missing base URL and model")
		}
	})
}
