package policies

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/somafractalmemory/soma/domain"
)

// Postgres reads the policies' candidates from the Postgres read model.
type Postgres struct {
	pool                           *pgxpool.Pool
	overfull, evictable, decayable string
}

// NewPostgres reads the records table of schema.
func NewPostgres(pool *pgxpool.Pool, schema string) *Postgres {
	records := pgx.Identifier{schema, "records"}.Sanitize()
	counts := pgx.Identifier{schema, "namespace_counts"}.Sanitize()
	return &Postgres{
		pool:      pool,
		overfull:  `SELECT namespace, total FROM ` + counts + ` WHERE total > $1`,
		evictable: `SELECT coordinate FROM ` + records + ` WHERE namespace = $1 ORDER BY importance_norm, created_at, coord_key LIMIT $2`,
		decayable: `SELECT namespace, coordinate, memory_type, payload FROM ` + records + ` WHERE created_at < $1 AND payload ?| $2 LIMIT $3`,
	}
}

var _ Reader = (*Postgres)(nil)

// Overfull implements Reader.
func (p *Postgres) Overfull(ctx context.Context, limit int) (map[string]int64, error) {
	rows, err := p.pool.Query(ctx, p.overfull, limit)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	var (
		ns string
		n  int64
	)
	_, err = pgx.ForEachRow(rows, []any{&ns, &n}, func() error { out[ns] = n; return nil })
	return out, err
}

// Evictable implements Reader.
func (p *Postgres) Evictable(ctx context.Context, ns string, n int) ([]domain.Coordinate, error) {
	rows, err := p.pool.Query(ctx, p.evictable, ns, n)
	if err != nil {
		return nil, err
	}
	var (
		out  []domain.Coordinate
		vals []float64
	)
	_, err = pgx.ForEachRow(rows, []any{&vals}, func() error {
		c, err := domain.NewCoordinate(vals)
		if err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// Decayable implements Reader.
func (p *Postgres) Decayable(ctx context.Context, olderThan time.Time, keys []string, limit int) ([]domain.Memory, error) {
	rows, err := p.pool.Query(ctx, p.decayable, olderThan, keys, limit)
	if err != nil {
		return nil, err
	}
	var (
		out     []domain.Memory
		ns, typ string
		vals    []float64
		payload []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&ns, &vals, &typ, &payload}, func() error {
		c, err := domain.NewCoordinate(vals)
		if err != nil {
			return err
		}
		m := domain.Memory{Namespace: ns, Coordinate: c, Type: domain.MemoryType(typ)}
		dec := json.NewDecoder(bytes.NewReader(payload))
		dec.UseNumber()
		if err := dec.Decode(&m.Payload); err != nil {
			return fmt.Errorf("payload of %s/%s: %w", ns, c.Key(), err)
		}
		out = append(out, m)
		return nil
	})
	return out, err
}
