package postgres

import (
	"hash/fnv"
	"testing"
)

// TestAdvisoryKey: the keys are the FNV-1a hash of the NUL-joined parts,
// as earlier releases computed them inline, so processes of both versions
// agree on the locks during a rolling upgrade.
func TestAdvisoryKey(t *testing.T) {
	fnvKey := func(s string) int64 {
		h := fnv.New64a()
		_, _ = h.Write([]byte(s))
		return int64(h.Sum64()) // #nosec G115 -- test mirror of advisoryKey
	}
	tests := []struct {
		name  string
		parts []string
		bytes string
	}{
		{"keeps_single_part_keys", []string{"soma.migrate.soma"}, "soma.migrate.soma"},
		{"keeps_nul_joined_keys", []string{"soma", "ns", "1,2"}, "soma\x00ns\x001,2"},
		{"separates_parts", []string{"a", "bc"}, "a\x00bc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := advisoryKey(tt.parts...), fnvKey(tt.bytes); got != want {
				t.Fatalf("advisoryKey(%q) = %d, want %d", tt.parts, got, want)
			}
		})
	}
	if advisoryKey("a", "bc") == advisoryKey("ab", "c") {
		t.Fatal("parts are not separated")
	}
}
