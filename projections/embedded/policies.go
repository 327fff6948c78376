package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/somafractalmemory/soma/domain"
)

// Overfull returns the namespaces holding more than limit memories, with
// their counts (the memory-limit policy's candidates).
func (s *Store) Overfull(ctx context.Context, limit int) (map[string]int64, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT namespace, total FROM namespace_counts WHERE total > ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("embedded overfull namespaces: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var ns string
		var n int64
		if err := rows.Scan(&ns, &n); err != nil {
			return nil, err
		}
		out[ns] = n
	}
	return out, rows.Err()
}

// Evictable returns the n memories of ns to evict first: lowest
// importance_norm, then oldest, then by key. It sorts the namespace's
// rows, which the policy does once per pass (not per store).
func (s *Store) Evictable(ctx context.Context, ns string, n int) ([]domain.Coordinate, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT coord_key FROM records WHERE namespace = ? ORDER BY importance_norm, created_at, coord_key LIMIT ?`, ns, n)
	if err != nil {
		return nil, fmt.Errorf("embedded evictable of %s: %w", ns, err)
	}
	defer rows.Close()
	var out []domain.Coordinate
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			return nil, err
		}
		c, err := domain.ParseCoordinate(key)
		if err != nil {
			return nil, fmt.Errorf("embedded evictable of %s: stored key %q: %w", ns, key, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Decayable returns up to limit memories stored before olderThan whose
// payload has at least one of keys (the decay policy's candidates).
func (s *Store) Decayable(ctx context.Context, olderThan time.Time, keys []string, limit int) ([]domain.Memory, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(keys)), ",")
	args := []any{formatTime(olderThan)}
	for _, k := range keys {
		args = append(args, k)
	}
	args = append(args, limit)
	// #nosec G202 -- marks is "?,?,...": the keys are bound parameters
	rows, err := s.rdb.QueryContext(ctx, `SELECT namespace, coord_key, memory_type, payload FROM records
WHERE created_at < ? AND EXISTS (SELECT 1 FROM json_each(records.payload) WHERE json_each.key IN (`+marks+`)) LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("embedded decayable: %w", err)
	}
	defer rows.Close()
	var out []domain.Memory
	for rows.Next() {
		var ns, key, typ, payload string
		if err := rows.Scan(&ns, &key, &typ, &payload); err != nil {
			return nil, err
		}
		c, err := domain.ParseCoordinate(key)
		if err != nil {
			return nil, err
		}
		m := domain.Memory{Namespace: ns, Coordinate: c, Type: domain.MemoryType(typ)}
		dec := json.NewDecoder(strings.NewReader(payload))
		dec.UseNumber()
		if err := dec.Decode(&m.Payload); err != nil {
			return nil, fmt.Errorf("embedded decayable %s/%s: payload: %w", ns, key, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
