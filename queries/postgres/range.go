package postgres

import (
	"context"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/somafractalmemory/soma/domain"
)

// Range returns the coordinates c of namespace with c.InRange(lo, hi):
// inclusive on both ends, compared on the dimensions c shares with each
// bound (an empty bound constrains nothing, a memory with fewer dimensions
// than a bound is compared on those it has), of type typ when not empty,
// ordered by coordinate key (bytewise), at most limit (no limit when
// limit ≤ 0). The test is done in SQL over the coordinate column.
func (s *Store) Range(ctx context.Context, namespace string, lo, hi domain.Coordinate, typ domain.MemoryType, limit int) ([]domain.Coordinate, error) {
	if s.err != nil {
		return nil, s.err
	}
	// Bounds of the first dimension for the index (see newStatements).
	first, last := []float64{}, []float64{math.Inf(1)}
	if lo.Dims() > 0 {
		first = []float64{lo.At(0)}
	}
	if hi.Dims() > 0 {
		last = []float64{hi.At(0), math.Inf(1)}
	}
	var lim *int64
	if limit > 0 {
		l := int64(limit)
		lim = &l
	}
	rows, err := s.pool.Query(ctx, s.q.rangeQ, namespace, lo.Values(), hi.Values(), first, last, string(typ), lim)
	if err != nil {
		return nil, s.readErr("range of "+namespace, err)
	}
	out := []domain.Coordinate{}
	var vals []float64
	_, err = pgx.ForEachRow(rows, []any{&vals}, func() error {
		c, err := domain.NewCoordinate(vals)
		if err != nil {
			return fmt.Errorf("stored coordinate %v: %w", vals, err)
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, s.readErr("range of "+namespace, err)
	}
	return out, nil
}
