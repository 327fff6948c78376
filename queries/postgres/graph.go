package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/somafractalmemory/soma/domain"
)

// Neighbors returns the outgoing edges of from in insertion order, only
// those of linkType when it is not empty, at most limit (none when
// limit ≤ 0): the projection's Neighbors. An unknown coordinate has none.
func (s *Store) Neighbors(ctx context.Context, namespace string, from domain.Coordinate, linkType string, limit int) ([]domain.Link, error) {
	if s.err != nil {
		return nil, s.err
	}
	links, err := s.proj.Neighbors(ctx, namespace, from, linkType, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres %s: %w", s.schema, classify(err))
	}
	return links, nil
}

// OutEdges returns the outgoing edges of every key of fromKeys (canonical
// coordinate keys), only those of linkType when it is not empty, keyed by
// source key, each list in insertion order, in one query. Keys without
// edges are absent from the map.
func (s *Store) OutEdges(ctx context.Context, namespace string, fromKeys []string, linkType string) (map[string][]domain.Link, error) {
	if s.err != nil {
		return nil, s.err
	}
	out := map[string][]domain.Link{}
	if len(fromKeys) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, s.q.outEdges, namespace, fromKeys, linkType)
	if err != nil {
		return nil, s.readErr("edges of "+namespace, err)
	}
	var (
		key      string
		from, to []float64
		typ      string
		weight   float64
		created  time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&key, &from, &to, &typ, &weight, &created}, func() error {
		f, err := domain.NewCoordinate(from)
		if err != nil {
			return fmt.Errorf("edge from %s: stored source coordinate: %w", key, err)
		}
		t, err := domain.NewCoordinate(to)
		if err != nil {
			return fmt.Errorf("edge from %s: stored target coordinate: %w", key, err)
		}
		out[key] = append(out[key], domain.Link{From: f, To: t, Type: typ, Weight: weight, CreatedAt: created.UTC()})
		return nil
	})
	if err != nil {
		return nil, s.readErr("edges of "+namespace, err)
	}
	return out, nil
}
