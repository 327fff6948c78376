package postgres

import (
	"context"

	"github.com/somafractalmemory/soma/domain"
)

// Export calls fn with every memory of namespace, ordered by coordinate
// key (bytewise), streaming the rows of one query: memory use does not
// grow with the namespace. The query holds one pooled connection (and its
// snapshot) until the walk ends, so fn should not block for long. An error
// of fn stops the walk (the query is cancelled) and is returned as is.
func (s *Store) Export(ctx context.Context, namespace string, fn func(domain.Memory) error) error {
	if s.err != nil {
		return s.err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, s.q.export, namespace)
	if err != nil {
		return s.readErr("export of "+namespace, err)
	}
	defer rows.Close()
	var r recordScan
	dest := r.dest()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return s.readErr("export of "+namespace, err)
		}
		m, err := r.memory(namespace)
		if err != nil {
			return s.readErr("export of "+namespace, err)
		}
		if err := fn(m); err != nil {
			cancel() // stop the server sending the rest
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return s.readErr("export of "+namespace, err)
	}
	return nil
}
