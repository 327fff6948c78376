package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strconv"

	"golang.org/x/sync/errgroup"

	"github.com/somafractalmemory/soma/internal/vectorindex"
)

// loadBatch is how many rows the loader hands to the index at a time.
const loadBatch = 1024

// loadIndex decides the index's model and dimension (the configured
// model, else the one recorded in meta) and loads every vector of that
// model and dimension. Vectors are read as little-endian float32 BLOBs
// into preallocated per-namespace slabs, by one goroutine per core.
func (s *Store) loadIndex(ctx context.Context) error {
	meta := map[string]string{}
	rows, err := s.wdb.QueryContext(ctx, `SELECT key, value FROM meta`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			_ = rows.Close() // the scan error is the one to report
			return err
		}
		meta[k] = v
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	model := s.cfg.EmbeddingModel
	if model == "" {
		model = meta[metaIndexModel]
	}
	dim := 0
	if model != "" && model == meta[metaIndexModel] {
		if dim, err = strconv.Atoi(meta[metaIndexDim]); err != nil {
			return fmt.Errorf("meta %s = %q: %w", metaIndexDim, meta[metaIndexDim], err)
		}
	} else if model != "" {
		// The configured model changed: the index is rebuilt from the
		// vectors of the new one (if any were stored).
		var n sql.NullInt64
		err := s.wdb.QueryRowContext(ctx, `SELECT length(embedding) / 4 FROM vectors WHERE model = ? LIMIT 1`, model).Scan(&n)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		dim = int(n.Int64)
		if _, err := s.wdb.ExecContext(ctx, `INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?), (?, ?)`,
			metaIndexModel, model, metaIndexDim, strconv.Itoa(dim)); err != nil {
			return err
		}
	}
	s.model, s.dim = model, dim
	if model == "" || dim == 0 {
		return nil
	}
	idx, err := vectorindex.NewFlat(model, dim)
	if err != nil {
		return err
	}

	// Preallocate each namespace's slab, from the memory counts (an upper
	// bound of the vectors of one model; reading the vectors table to
	// count them would cost as much as loading them).
	crow, err := s.wdb.QueryContext(ctx, `SELECT namespace, total FROM namespace_counts WHERE total > 0`)
	if err != nil {
		return err
	}
	for crow.Next() {
		var (
			ns string
			n  int
		)
		if err := crow.Scan(&ns, &n); err != nil {
			_ = crow.Close() // the scan error is the one to report
			return err
		}
		idx.Reserve(ns, n)
	}
	if err := errors.Join(crow.Err(), crow.Close()); err != nil {
		return err
	}

	// Full scans of rowid ranges, one per core, each on its own read
	// connection (the unary + keeps SQLite off any index on model).
	var lo, hi sql.NullInt64
	if err := s.wdb.QueryRowContext(ctx, `SELECT min(rowid), max(rowid) FROM vectors`).Scan(&lo, &hi); err != nil {
		return err
	}
	if !lo.Valid {
		s.idx = idx
		return nil
	}
	parts := int64(max(1, min(runtime.GOMAXPROCS(0), s.cfg.ReadConns)))
	span := (hi.Int64 - lo.Int64 + parts) / parts
	g, gctx := errgroup.WithContext(ctx)
	for p := range parts {
		from := lo.Int64 + p*span
		to := min(from+span-1, hi.Int64)
		g.Go(func() error { return s.loadRange(gctx, idx, model, dim, from, to) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	s.idx = idx
	return nil
}

// loadRange loads the vectors of rowids [from, to] into idx.
func (s *Store) loadRange(ctx context.Context, idx *vectorindex.Flat, model string, dim int, from, to int64) error {
	rows, err := s.rdb.QueryContext(ctx, `SELECT namespace, coord_key, memory_type, importance_norm, fields, embedding
FROM vectors WHERE rowid BETWEEN ? AND ? AND +model = ? AND length(embedding) = ?`, from, to, model, 4*dim)
	if err != nil {
		return err
	}
	defer rows.Close()
	names := map[string]string{} // interned namespaces and types
	intern := func(b []byte) string {
		if s, ok := names[string(b)]; ok {
			return s
		}
		s := string(b)
		names[s] = s
		return s
	}
	batch := make([]vectorindex.Entry, 0, loadBatch)
	slab := make([]float32, loadBatch*dim)
	var (
		ns, key, typ, fields, emb sql.RawBytes
		norm                      float64
	)
	for rows.Next() {
		if err := rows.Scan(&ns, &key, &typ, &norm, &fields, &emb); err != nil {
			return err
		}
		fs, err := vectorindex.UnmarshalFields(fields)
		if err != nil {
			return fmt.Errorf("fields of %s/%s: %w", ns, key, err)
		}
		i := len(batch)
		vec := decodeVector(emb, slab[i*dim:(i+1)*dim])
		batch = append(batch, vectorindex.Entry{
			ID:             vectorindex.ID{Namespace: intern(ns), Key: string(key)},
			Type:           intern(typ),
			ImportanceNorm: norm,
			Fields:         fs,
			Vector:         vec,
		})
		if len(batch) == loadBatch {
			if err := idx.Upsert(batch...); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return idx.Upsert(batch...)
}
