// Package queries holds the read side's use cases: one file per query,
// each a handler with a constructor, over small read-model interfaces
// declared here and implemented by the adapters in queries/postgres,
// queries/qdrant, queries/redis and queries/embedded. HTTP mapping lives
// in queries/httpapi only.
package queries

import (
	"context"
	"errors"

	"github.com/somafractalmemory/soma/domain"
)

// VectorQuery asks for the memories of one namespace nearest to a vector.
type VectorQuery struct {
	Namespace string
	// Vector is unit-length, of the index's dimension.
	Vector []float32
	// EmbeddingModel of Vector; an index built by another model or
	// dimension refuses the query with ErrModelMismatch.
	EmbeddingModel string
	// TopK is 1..1000.
	TopK int
	// Type filters by memory type when non-empty.
	Type domain.MemoryType
	// Filters are equality conditions on top-level payload keys, all of
	// which must hold: strings and booleans compare exactly, numbers
	// numerically (1 equals 1.0), null matches an explicit null. They are
	// applied inside the search, before the top-k cut.
	Filters map[string]any
}

// Hit is one search result.
type Hit struct {
	Coordinate domain.Coordinate
	// Cosine is the cosine similarity of the query and the memory.
	Cosine float64
	// ImportanceNorm is the memory's normalised importance.
	ImportanceNorm float64
	// Score is max(0, Cosine) × ImportanceNorm.
	Score float64
}

// VectorIndex finds the memories with the highest score. Results are
// ordered by Score descending; equal scores are ordered by coordinate key
// ascending, so answers are stable.
type VectorIndex interface {
	Search(ctx context.Context, q VectorQuery) ([]Hit, error)
}

// ErrModelMismatch: the index was built by another embedding model or
// dimension than the query's.
var ErrModelMismatch = errors.New("embedding model mismatch")

// RecordStore returns memories by coordinate key (Coordinate.Key()).
// Missing keys are absent from the map.
type RecordStore interface {
	Records(ctx context.Context, namespace string, keys []string) (map[string]domain.Memory, error)
}

// Graph reads the directed, weighted graph.
type Graph interface {
	// Neighbors returns the outgoing edges of from in insertion order,
	// only those of linkType when non-empty, at most limit (none when
	// limit ≤ 0). An unknown coordinate has none.
	Neighbors(ctx context.Context, namespace string, from domain.Coordinate, linkType string, limit int) ([]domain.Link, error)
	// OutEdges returns the outgoing edges of each of the keys (only of
	// linkType when non-empty), keyed by source coordinate key. Used by
	// shortest path to expand a frontier in one round-trip.
	OutEdges(ctx context.Context, namespace string, fromKeys []string, linkType string) (map[string][]domain.Link, error)
}

// RangeScanner lists memories whose coordinates lie in a box.
type RangeScanner interface {
	// Range returns the coordinates c with c.InRange(lo, hi), of type typ
	// when non-empty, ordered by coordinate key; at most limit (0 = no
	// limit).
	Range(ctx context.Context, namespace string, lo, hi domain.Coordinate, typ domain.MemoryType, limit int) ([]domain.Coordinate, error)
}

// Stats are the per-namespace counts.
type Stats struct {
	Total, Episodic, Semantic int64
}

// Counter returns the per-namespace counts.
type Counter interface {
	Counts(ctx context.Context, namespace string) (Stats, error)
}

// Exporter streams every memory of a namespace, ordered by coordinate key.
// fn's error stops the walk and is returned.
type Exporter interface {
	Export(ctx context.Context, namespace string, fn func(domain.Memory) error) error
}

// HistoryEntry is one event of a memory's history.
type HistoryEntry struct {
	EventID    string
	EventType  string
	OccurredAt string // RFC 3339
	Source     string
	Partition  int32
	Offset     int64
	// Event is the decoded event, as JSON-friendly fields.
	Event map[string]any
}

// HistoryReader returns a memory's events, oldest first, at most limit.
type HistoryReader interface {
	History(ctx context.Context, namespace string, coord domain.Coordinate, limit int) ([]HistoryEntry, error)
}

// PositionReader returns a read model's applied offset per partition of
// a source (topic or consistency.EventLogSource).
type PositionReader interface {
	Positions(ctx context.Context, source string) (map[int32]int64, error)
}
