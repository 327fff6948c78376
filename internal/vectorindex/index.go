// Package vectorindex is the in-process vector index of the embedded
// store: exact nearest-neighbour search over the memories of one embedding
// model, with the namespace, memory-type and payload filters applied
// before the top-k cut.
//
// Index is the interface a store talks to; Flat is the exact
// implementation (contiguous float32 storage, a SIMD or unrolled dot
// product, rows split across cores). An approximate index (HNSW) can
// implement the same interface later.
//
// Scores: score = max(0, cosine) × importance_norm, computed inside the
// scan so that the top k are the k best final scores. Equal scores are
// ordered by key ascending (byte order), so answers are stable.
package vectorindex

import (
	"context"
	"errors"
)

// Errors of the index.
var (
	// ErrModelMismatch: the query's vector is of another embedding model
	// or dimension than the index's.
	ErrModelMismatch = errors.New("embedding model mismatch")
	// ErrInvalidVector: a vector has the wrong dimension or a value that is
	// not finite.
	ErrInvalidVector = errors.New("invalid vector")
	// ErrInvalidQuery: the query cannot be answered (top k < 1).
	ErrInvalidQuery = errors.New("invalid query")
)

// ID identifies one row: a memory's namespace and coordinate key. There is
// at most one row per ID.
type ID struct {
	Namespace string
	Key       string
}

// Entry is one memory as the index holds it.
type Entry struct {
	ID
	// Type is the memory type ("episodic", "semantic"); queries filter on
	// it by equality.
	Type string
	// ImportanceNorm in [0,1] multiplies the cosine in the score.
	ImportanceNorm float64
	// Fields are the top-level fields of the payload filters can match
	// (see PayloadFields).
	Fields Fields
	// Vector is of the index's dimension, finite. It need not be unit
	// length: the index keeps its norm. The index copies it.
	Vector []float32
}

// Query asks for the TopK best rows of one namespace.
type Query struct {
	Namespace string
	// Model is the embedding model of Vector. When not empty it must be
	// the index's model; the dimension is always checked.
	Model  string
	Vector []float32
	TopK   int
	// Type, when not empty, keeps rows of that type only.
	Type string
	// Filters: every field must be present in the row's Fields with an
	// equal value (see Value.Equal). A filter value ValueOf refuses
	// matches no row.
	Filters map[string]any
}

// Result is one hit.
type Result struct {
	Key string
	// Cosine of the query and the row, clamped to [-1, 1].
	Cosine float64
	// ImportanceNorm of the row.
	ImportanceNorm float64
	// Score is max(0, Cosine) × ImportanceNorm.
	Score float64
}

// Index is a vector index. Implementations are safe for concurrent use; a
// call of Upsert or Delete is atomic with respect to Search.
type Index interface {
	// Upsert inserts or replaces the rows of entries (all of them, or
	// none when one is invalid). A replaced row keeps no trace of its
	// previous vector or metadata.
	Upsert(entries ...Entry) error
	// Delete removes the rows of ids and returns how many existed.
	Delete(ids ...ID) int
	// Search returns at most q.TopK results ordered by Score descending,
	// then Key ascending.
	Search(ctx context.Context, q Query) ([]Result, error)
	// Len is the number of rows.
	Len() int
}
