package embedded

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"

	"github.com/somafractalmemory/soma/internal/vectorindex"
)

// ErrIndexMismatch is returned by CheckIndex when the vector index differs
// from the vectors table.
var ErrIndexMismatch = errors.New("vector index differs from the stored vectors")

// CheckIndex compares the in-memory vector index with the vectors of the
// index's model stored in SQLite: the same rows, each with the same
// vector, type, importance and filter fields. It reads every vector, so
// it is meant for tests and diagnostics; concurrent writes are held off
// while it runs.
func (s *Store) CheckIndex(ctx context.Context) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.imu.RLock()
	idx, model, dim := s.idx, s.model, s.dim
	s.imu.RUnlock()
	rows, err := s.rdb.QueryContext(ctx, `SELECT namespace, coord_key, memory_type, importance_norm, fields, embedding
FROM vectors WHERE model = ? AND length(embedding) = ? ORDER BY namespace, coord_key`, model, 4*dim)
	if err != nil {
		return err
	}
	defer rows.Close()
	var stored []vectorindex.ID
	for rows.Next() {
		var (
			e            vectorindex.Entry
			fields, blob []byte
		)
		if err := rows.Scan(&e.Namespace, &e.Key, &e.Type, &e.ImportanceNorm, &fields, &blob); err != nil {
			return err
		}
		if e.Fields, err = vectorindex.UnmarshalFields(fields); err != nil {
			return err
		}
		e.Vector = decodeVector(blob, nil)
		stored = append(stored, e.ID)
		if idx == nil {
			return fmt.Errorf("%w: %s/%s is stored but there is no index", ErrIndexMismatch, e.Namespace, e.Key)
		}
		got, ok := idx.Get(e.ID)
		if !ok {
			return fmt.Errorf("%w: %s/%s is stored but not indexed", ErrIndexMismatch, e.Namespace, e.Key)
		}
		if !sameBits(got.Vector, e.Vector) || got.Type != e.Type || got.ImportanceNorm != e.ImportanceNorm ||
			!(len(got.Fields) == 0 && len(e.Fields) == 0 || reflect.DeepEqual(got.Fields, e.Fields)) {
			return fmt.Errorf("%w: %s/%s differs: index %+v, stored %+v", ErrIndexMismatch, e.Namespace, e.Key, got, e)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if idx == nil {
		return nil
	}
	if ids := idx.IDs(); !slices.Equal(ids, stored) {
		return fmt.Errorf("%w: the index has %d rows, %d are stored", ErrIndexMismatch, len(ids), len(stored))
	}
	return nil
}

func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}
