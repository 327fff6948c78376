package postgres

import (
	"context"
	"fmt"

	"github.com/somafractalmemory/soma/queries"
)

// Counts returns the memory counts of namespace (zeros for an unknown
// one) from the namespace_counts row the projection maintains.
func (s *Store) Counts(ctx context.Context, namespace string) (queries.Stats, error) {
	if s.err != nil {
		return queries.Stats{}, s.err
	}
	total, episodic, semantic, err := s.proj.Counts(ctx, namespace)
	if err != nil {
		return queries.Stats{}, fmt.Errorf("postgres %s: %w", s.schema, classify(err))
	}
	return queries.Stats{Total: total, Episodic: episodic, Semantic: semantic}, nil
}

// Positions returns the applied offset of every partition of source
// (consistency.EventLogSource in direct-write mode), read from the
// checkpoints table written in the same transaction as the rows.
func (s *Store) Positions(ctx context.Context, source string) (map[int32]int64, error) {
	if s.err != nil {
		return nil, s.err
	}
	pos, err := s.proj.Positions(ctx, source)
	if err != nil {
		return nil, fmt.Errorf("postgres %s: %w", s.schema, classify(err))
	}
	return pos, nil
}
