package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/vectorindex"
	"github.com/somafractalmemory/soma/projections/embedded"
	"github.com/somafractalmemory/soma/queries"
	pgq "github.com/somafractalmemory/soma/queries/postgres"
)

// embeddedReads adapts the embedded store to the query ports.
type embeddedReads struct{ s *embedded.Store }

var (
	_ queries.VectorIndex    = embeddedReads{}
	_ queries.RecordStore    = embeddedReads{}
	_ queries.Graph          = embeddedReads{}
	_ queries.RangeScanner   = embeddedReads{}
	_ queries.Counter        = embeddedReads{}
	_ queries.Exporter       = embeddedReads{}
	_ queries.HistoryReader  = embeddedReads{}
	_ queries.PositionReader = embeddedReads{}
)

func (e embeddedReads) Search(ctx context.Context, q queries.VectorQuery) ([]queries.Hit, error) {
	res, err := e.s.Search(ctx, vectorindex.Query{Namespace: q.Namespace, Model: q.EmbeddingModel, Vector: q.Vector, TopK: q.TopK, Type: string(q.Type), Filters: q.Filters})
	if errors.Is(err, vectorindex.ErrModelMismatch) {
		return nil, fmt.Errorf("%w: %v", queries.ErrModelMismatch, err)
	}
	if err != nil {
		return nil, err
	}
	out := make([]queries.Hit, 0, len(res))
	for _, r := range res {
		c, err := domain.ParseCoordinate(r.Key)
		if err != nil {
			return nil, fmt.Errorf("embedded index key %q: %w", r.Key, err)
		}
		out = append(out, queries.Hit{Coordinate: c, Cosine: r.Cosine, ImportanceNorm: r.ImportanceNorm, Score: r.Score})
	}
	return out, nil
}

func (e embeddedReads) Records(ctx context.Context, ns string, keys []string) (map[string]domain.Memory, error) {
	return e.s.Records(ctx, ns, keys)
}

func (e embeddedReads) Neighbors(ctx context.Context, ns string, from domain.Coordinate, linkType string, limit int) ([]domain.Link, error) {
	return e.s.Neighbors(ctx, ns, from, linkType, limit)
}

func (e embeddedReads) OutEdges(ctx context.Context, ns string, fromKeys []string, linkType string) (map[string][]domain.Link, error) {
	return e.s.OutEdges(ctx, ns, fromKeys, linkType)
}

func (e embeddedReads) Range(ctx context.Context, ns string, lo, hi domain.Coordinate, typ domain.MemoryType, limit int) ([]domain.Coordinate, error) {
	return e.s.Range(ctx, ns, lo, hi, typ, limit)
}

func (e embeddedReads) Counts(ctx context.Context, ns string) (queries.Stats, error) {
	t, ep, se, err := e.s.Counts(ctx, ns)
	return queries.Stats{Total: t, Episodic: ep, Semantic: se}, err
}

func (e embeddedReads) Export(ctx context.Context, ns string, fn func(domain.Memory) error) error {
	return e.s.Export(ctx, ns, fn)
}

func (e embeddedReads) History(ctx context.Context, ns string, coord domain.Coordinate, limit int) ([]queries.HistoryEntry, error) {
	rows, err := e.s.History(ctx, ns, coord, limit)
	if err != nil {
		return nil, err
	}
	out := make([]queries.HistoryEntry, 0, len(rows))
	for _, r := range rows {
		out = append(out, queries.HistoryEntry{EventID: r.EventID, EventType: r.EventType, OccurredAt: r.OccurredAt.UTC().Format(time.RFC3339Nano),
			Source: r.Source, Partition: r.Partition, Offset: r.Offset, Event: pgq.EventFields(r.Event)})
	}
	return out, nil
}

func (e embeddedReads) Positions(ctx context.Context, source string) (map[int32]int64, error) {
	return e.s.Positions(ctx, source)
}
