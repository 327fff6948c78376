// Package embedded is the read side of the embedded store
// (projections/embedded): every port of the queries package over one
// *embedded.Store, the read model of `soma serve` when no external service
// is configured.
//
// Recall runs on the store's in-process vector index (exact search, the
// filters and type applied before the top-k cut); records, the graph,
// ranges, counts, the export stream and histories are read from the
// SQLite file; positions are the store's applied positions, which advance
// only once the index has the writes too.
//
// Ordering by coordinate key is bytewise, as Go compares strings.
//
// Errors: SQLite busy or failing (locked, I/O, disk full) is reported
// wrapping queries.ErrUnavailable; a query vector of another embedding
// model or dimension than the index's wraps queries.ErrModelMismatch; a
// vector query that cannot run as given is a domain.ValidationErrors
// whose fields wrap ErrInvalidQuery.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/vectorindex"
	projembedded "github.com/somafractalmemory/soma/projections/embedded"
	"github.com/somafractalmemory/soma/queries"
)

// maxTopK is the largest top k accepted (queries.MaxTopK).
const maxTopK = queries.MaxTopK

// ErrInvalidQuery is the cause of every field of the
// domain.ValidationErrors Search returns for a query it cannot run as
// given (top_k out of range, an empty, zero or non-finite vector, an
// unknown memory type, an invalid namespace).
var ErrInvalidQuery = errors.New("invalid vector query")

// ReadModel serves every query port from one store. It is safe for
// concurrent use.
type ReadModel struct {
	s *projembedded.Store
}

var (
	_ queries.VectorIndex    = (*ReadModel)(nil)
	_ queries.RecordStore    = (*ReadModel)(nil)
	_ queries.Graph          = (*ReadModel)(nil)
	_ queries.RangeScanner   = (*ReadModel)(nil)
	_ queries.Counter        = (*ReadModel)(nil)
	_ queries.Exporter       = (*ReadModel)(nil)
	_ queries.HistoryReader  = (*ReadModel)(nil)
	_ queries.PositionReader = (*ReadModel)(nil)
)

// New returns the read model of s (opened by the caller, who closes it).
func New(s *projembedded.Store) *ReadModel { return &ReadModel{s: s} }

// Search returns the q.TopK memories of q.Namespace with the highest score
// max(0, cosine) × importance_norm, by exact search of the index (filters
// and type applied before the cut; equal scores by coordinate key).
func (r *ReadModel) Search(ctx context.Context, q queries.VectorQuery) ([]queries.Hit, error) {
	if errs := validate(q); len(errs) > 0 {
		return nil, errs
	}
	res, err := r.s.Search(ctx, vectorindex.Query{
		Namespace: q.Namespace,
		Model:     q.EmbeddingModel,
		Vector:    q.Vector,
		TopK:      q.TopK,
		Type:      string(q.Type),
		Filters:   q.Filters,
	})
	if errors.Is(err, vectorindex.ErrModelMismatch) {
		return nil, fmt.Errorf("embedded index: %w: %w", queries.ErrModelMismatch, err)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded index: search %s: %w", q.Namespace, classify(err))
	}
	hits := make([]queries.Hit, len(res))
	for i, h := range res {
		c, err := domain.ParseCoordinate(h.Key)
		if err != nil {
			return nil, fmt.Errorf("embedded index: stored key %q: %w", h.Key, err)
		}
		hits[i] = queries.Hit{Coordinate: c, Cosine: h.Cosine, ImportanceNorm: h.ImportanceNorm, Score: h.Score}
	}
	return hits, nil
}

// validate reports every problem of q at once (the checks of every vector
// index, so that they answer alike).
func validate(q queries.VectorQuery) domain.ValidationErrors {
	var errs domain.ValidationErrors
	add := func(field, msg string) {
		errs = append(errs, domain.ValidationError{Field: field, Message: msg, Err: ErrInvalidQuery})
	}
	if q.TopK < 1 || q.TopK > maxTopK {
		add("top_k", fmt.Sprintf("must be between 1 and %d, got %d", maxTopK, q.TopK))
	}
	if err := domain.ValidateNamespace(q.Namespace); err != nil {
		add("namespace", err.Error())
	}
	if q.Type != "" && q.Type != domain.Episodic && q.Type != domain.Semantic {
		add("type", fmt.Sprintf("%v %q", domain.ErrInvalidMemoryType, q.Type))
	}
	var norm float64
	for i, f := range q.Vector {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			add("vector", fmt.Sprintf("value %d is not finite", i))
			return errs
		}
		norm += float64(f) * float64(f)
	}
	if norm == 0 {
		add("vector", "is empty or zero")
	}
	return errs
}

// Records returns the memories at the given coordinate keys.
func (r *ReadModel) Records(ctx context.Context, namespace string, keys []string) (map[string]domain.Memory, error) {
	out, err := r.s.Records(ctx, namespace, keys)
	return out, classify(err)
}

// Neighbors returns the outgoing edges of from in insertion order.
func (r *ReadModel) Neighbors(ctx context.Context, namespace string, from domain.Coordinate, linkType string, limit int) ([]domain.Link, error) {
	out, err := r.s.Neighbors(ctx, namespace, from, linkType, limit)
	return out, classify(err)
}

// OutEdges returns the outgoing edges of each key in one query.
func (r *ReadModel) OutEdges(ctx context.Context, namespace string, fromKeys []string, linkType string) (map[string][]domain.Link, error) {
	out, err := r.s.OutEdges(ctx, namespace, fromKeys, linkType)
	return out, classify(err)
}

// Range returns the coordinates in the box, ordered by coordinate key.
func (r *ReadModel) Range(ctx context.Context, namespace string, lo, hi domain.Coordinate, typ domain.MemoryType, limit int) ([]domain.Coordinate, error) {
	out, err := r.s.Range(ctx, namespace, lo, hi, typ, limit)
	return out, classify(err)
}

// Counts returns the per-namespace counts (one row).
func (r *ReadModel) Counts(ctx context.Context, namespace string) (queries.Stats, error) {
	t, e, s, err := r.s.Counts(ctx, namespace)
	if err != nil {
		return queries.Stats{}, classify(err)
	}
	return queries.Stats{Total: t, Episodic: e, Semantic: s}, nil
}

// Export streams the namespace's memories ordered by coordinate key; fn's
// error stops the walk and is returned as is.
func (r *ReadModel) Export(ctx context.Context, namespace string, fn func(domain.Memory) error) error {
	var fnErr error
	err := r.s.Export(ctx, namespace, func(m domain.Memory) error {
		fnErr = fn(m)
		return fnErr
	})
	if fnErr != nil {
		return err
	}
	return classify(err)
}

// History returns the memory's last limit events, oldest first, each
// decoded into JSON-friendly fields (queries.EventFields).
func (r *ReadModel) History(ctx context.Context, namespace string, coord domain.Coordinate, limit int) ([]queries.HistoryEntry, error) {
	rows, err := r.s.History(ctx, namespace, coord, limit)
	if err != nil {
		return nil, classify(err)
	}
	out := make([]queries.HistoryEntry, len(rows))
	for i, h := range rows {
		out[i] = queries.HistoryEntry{
			EventID:    h.EventID,
			EventType:  h.EventType,
			OccurredAt: h.OccurredAt.UTC().Format(time.RFC3339Nano),
			Source:     h.Source,
			Partition:  h.Partition,
			Offset:     h.Offset,
			Event:      queries.EventFields(h.Event),
		}
	}
	return out, nil
}

// Positions returns the store's applied positions of source.
func (r *ReadModel) Positions(ctx context.Context, source string) (map[int32]int64, error) {
	return r.s.Positions(ctx, source)
}

// classify wraps SQLite errors that mean "not now" (busy, locked, I/O,
// out of memory or disk) with queries.ErrUnavailable.
func classify(err error) error {
	var se *sqlite.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL:
		return fmt.Errorf("%w: %w", queries.ErrUnavailable, err)
	}
	return err
}
