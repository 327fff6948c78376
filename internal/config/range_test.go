package config

import (
	"strings"
	"testing"
)

// TestLoadIntegerRanges: integers stored in narrower types are refused
// when they do not fit, instead of wrapping into a valid-looking value.
func TestLoadIntegerRanges(t *testing.T) {
	tests := []struct {
		name, variable, value string
		wantErr               bool
	}{
		{"rejects_partitions_beyond_int32", "KAFKA_TOPIC_PARTITIONS", "4294967297", true},
		{"rejects_replication_factor_beyond_int16", "KAFKA_TOPIC_REPLICATION_FACTOR", "65537", true},
		{"accepts_largest_partition_count", "KAFKA_TOPIC_PARTITIONS", "2147483647", false},
		{"accepts_largest_replication_factor", "KAFKA_TOPIC_REPLICATION_FACTOR", "32767", false},
		{"rejects_pool_size_beyond_int32", "SOMA_POSTGRES_MAX_CONNS", "2147483648", true},
		{"rejects_negative_pool_size", "SOMA_POSTGRES_MAX_CONNS", "-1", true},
		{"accepts_default_pool_size", "SOMA_POSTGRES_MAX_CONNS", "0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(MapLookup(map[string]string{tt.variable: tt.value}))
			got := err != nil && strings.Contains(err.Error(), tt.variable+"=")
			if got != tt.wantErr {
				t.Fatalf("err = %v, want an error about %s: %v", err, tt.variable, tt.wantErr)
			}
		})
	}
}
