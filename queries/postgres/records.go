package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/somafractalmemory/soma/domain"
)

// Records returns the memories of namespace at the given canonical
// coordinate keys (domain.Coordinate.Key), in one query. Missing keys are
// absent from the map; duplicate keys are harmless.
func (s *Store) Records(ctx context.Context, namespace string, keys []string) (map[string]domain.Memory, error) {
	if s.err != nil {
		return nil, s.err
	}
	out := make(map[string]domain.Memory, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, s.q.records, namespace, keys)
	if err != nil {
		return nil, s.readErr("records of "+namespace, err)
	}
	var r recordScan
	_, err = pgx.ForEachRow(rows, r.dest(), func() error {
		m, err := r.memory(namespace)
		if err != nil {
			return err
		}
		out[r.key] = m
		return nil
	})
	if err != nil {
		return nil, s.readErr("records of "+namespace, err)
	}
	return out, nil
}
