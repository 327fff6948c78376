package embedded

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/vectorindex"
	"github.com/somafractalmemory/soma/projections"
)

// The read helpers below serve the query side (queries/embedded), the
// write side's directory and the contract suite. They read committed
// state through the read connections and are safe for concurrent use.

// exportPage is how many records Export reads per query.
const exportPage = 512

const recordColumns = `coordinate, memory_type, payload, importance, importance_norm, created_at, updated_at, version, last_event_id`

// scanMemory reads a row of recordColumns.
func scanMemory(ns string, sc interface{ Scan(...any) error }) (domain.Memory, error) {
	var (
		coord        []byte
		typ, payload string
		imp          sql.NullFloat64
		created, upd string
		m            = domain.Memory{Namespace: ns}
		err1, err2   error
	)
	err := sc.Scan(&coord, &typ, &payload, &imp, &m.ImportanceNorm, &created, &upd, &m.Version, &m.LastEventID)
	if err != nil {
		return domain.Memory{}, err
	}
	if m.Coordinate, err = decodeCoordinate(coord); err != nil {
		return domain.Memory{}, fmt.Errorf("stored coordinate: %w", err)
	}
	if m.Payload, err = decodePayload(payload); err != nil {
		return domain.Memory{}, fmt.Errorf("stored payload of %s/%s: %w", ns, m.Coordinate.Key(), err)
	}
	m.StoredAt, err1 = parseTime(created)
	m.UpdatedAt, err2 = parseTime(upd)
	if err := errors.Join(err1, err2); err != nil {
		return domain.Memory{}, fmt.Errorf("stored times of %s/%s: %w", ns, m.Coordinate.Key(), err)
	}
	m.Type = domain.MemoryType(typ)
	if imp.Valid {
		v := imp.Float64
		m.Importance = &v
	}
	return m, nil
}

// decodePayload decodes a stored payload the way domain.MemoryFromStored
// does: a JSON object, numbers kept as json.Number.
func decodePayload(raw string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	if out == nil {
		return nil, errors.New("not a JSON object")
	}
	return out, nil
}

// jsonKeys is keys as a JSON array, for `IN (SELECT value FROM
// json_each(?))`.
func jsonKeys(keys []string) string {
	b, _ := json.Marshal(keys) // strings always encode
	return string(b)
}

// Get returns the memory at coord in namespace ns; ok is false when there
// is none.
func (s *Store) Get(ctx context.Context, ns string, coord domain.Coordinate) (m domain.Memory, ok bool, err error) {
	row := s.rdb.QueryRowContext(ctx, `SELECT `+recordColumns+` FROM records WHERE namespace = ? AND coord_key = ?`, ns, coord.Key())
	m, err = scanMemory(ns, row)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Memory{}, false, nil
	}
	if err != nil {
		return domain.Memory{}, false, fmt.Errorf("embedded get %s/%s: %w", ns, coord.Key(), err)
	}
	return m, true, nil
}

// Records returns the memories of namespace ns at the given coordinate
// keys (domain.Coordinate.Key); missing keys are absent from the map.
func (s *Store) Records(ctx context.Context, ns string, keys []string) (map[string]domain.Memory, error) {
	out := make(map[string]domain.Memory, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT coord_key, `+recordColumns+` FROM records
WHERE namespace = ? AND coord_key IN (SELECT value FROM json_each(?))`, ns, jsonKeys(keys))
	if err != nil {
		return nil, fmt.Errorf("embedded records of %s: %w", ns, err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		m, err := scanMemory(ns, prefixScanner{rows, &key})
		if err != nil {
			return nil, fmt.Errorf("embedded records of %s: %w", ns, err)
		}
		out[key] = m
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("embedded records of %s: %w", ns, err)
	}
	return out, nil
}

// prefixScanner scans one leading column into first, then the rest.
type prefixScanner struct {
	rows  *sql.Rows
	first any
}

func (p prefixScanner) Scan(dest ...any) error {
	return p.rows.Scan(append([]any{p.first}, dest...)...)
}

// Existing reports, for each coordinate key in keys, whether namespace ns
// holds a memory there (commands.Directory). Every key is in the result.
// Errors wrap commands.ErrUnavailable when SQLite is busy or failing.
func (s *Store) Existing(ctx context.Context, ns string, keys []string) (map[string]bool, error) {
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[k] = false
	}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT coord_key FROM records
WHERE namespace = ? AND coord_key IN (SELECT value FROM json_each(?))`, ns, jsonKeys(keys))
	if err != nil {
		return nil, fmt.Errorf("embedded existing in %s: %w", ns, unavailable(err))
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("embedded existing in %s: %w", ns, unavailable(err))
		}
		out[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("embedded existing in %s: %w", ns, unavailable(err))
	}
	return out, nil
}

// Neighbors returns the outgoing edges of from in insertion order, only
// those of linkType when it is not empty, at most limit of them (none
// when limit <= 0). An unknown coordinate has none.
func (s *Store) Neighbors(ctx context.Context, ns string, from domain.Coordinate, linkType string, limit int) ([]domain.Link, error) {
	out := []domain.Link{}
	if limit <= 0 {
		return out, nil
	}
	q := `SELECT from_key, to_key, link_type, weight, created_at FROM links WHERE namespace = ? AND from_key = ?`
	args := []any{ns, from.Key()}
	if linkType != "" {
		q += ` AND link_type = ?`
		args = append(args, linkType)
	}
	q += ` ORDER BY seq LIMIT ?`
	args = append(args, limit)
	err := s.scanLinks(ctx, q, args, func(l domain.Link) { out = append(out, l) })
	if err != nil {
		return nil, fmt.Errorf("embedded neighbors of %s/%s: %w", ns, from.Key(), err)
	}
	return out, nil
}

// OutEdges returns the outgoing edges of each of fromKeys (only of
// linkType when not empty), in insertion order, keyed by source
// coordinate key; keys without edges are absent.
func (s *Store) OutEdges(ctx context.Context, ns string, fromKeys []string, linkType string) (map[string][]domain.Link, error) {
	out := map[string][]domain.Link{}
	if len(fromKeys) == 0 {
		return out, nil
	}
	q := `SELECT from_key, to_key, link_type, weight, created_at FROM links
WHERE namespace = ? AND from_key IN (SELECT value FROM json_each(?))`
	args := []any{ns, jsonKeys(fromKeys)}
	if linkType != "" {
		q += ` AND link_type = ?`
		args = append(args, linkType)
	}
	q += ` ORDER BY from_key, seq`
	err := s.scanLinks(ctx, q, args, func(l domain.Link) {
		k := l.From.Key()
		out[k] = append(out[k], l)
	})
	if err != nil {
		return nil, fmt.Errorf("embedded out-edges in %s: %w", ns, err)
	}
	return out, nil
}

// scanLinks runs a query of (from_key, to_key, link_type, weight,
// created_at) rows.
func (s *Store) scanLinks(ctx context.Context, q string, args []any, fn func(domain.Link)) error {
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		from, to, at string
		l            domain.Link
		// Parsed coordinates of the last source seen (rows come grouped).
		lastFrom  string
		fromCoord domain.Coordinate
		first     = true
	)
	for rows.Next() {
		if err := rows.Scan(&from, &to, &l.Type, &l.Weight, &at); err != nil {
			return err
		}
		if first || from != lastFrom {
			if fromCoord, err = domain.ParseCoordinate(from); err != nil {
				return fmt.Errorf("stored source key %q: %w", from, err)
			}
			lastFrom, first = from, false
		}
		toCoord, err := domain.ParseCoordinate(to)
		if err != nil {
			return fmt.Errorf("stored target key %q: %w", to, err)
		}
		created, err := parseTime(at)
		if err != nil {
			return fmt.Errorf("stored link time: %w", err)
		}
		fn(domain.Link{From: fromCoord, To: toCoord, Type: l.Type, Weight: l.Weight, CreatedAt: created})
	}
	return rows.Err()
}

// Range returns the coordinates c of namespace ns with c.InRange(lo, hi),
// of type typ when not empty, ordered by coordinate key (byte order), at
// most limit (0: no limit). The first dimension narrows the scan through
// an index; the rest is checked in Go.
func (s *Store) Range(ctx context.Context, ns string, lo, hi domain.Coordinate, typ domain.MemoryType, limit int) ([]domain.Coordinate, error) {
	q := `SELECT coordinate FROM records WHERE namespace = ?`
	args := []any{ns}
	if typ != "" {
		q += ` AND memory_type = ?`
		args = append(args, string(typ))
	}
	var conds []string
	if lo.Dims() > 0 {
		conds = append(conds, `c0 >= ?`)
		args = append(args, lo.At(0))
	}
	if hi.Dims() > 0 {
		conds = append(conds, `c0 <= ?`)
		args = append(args, hi.At(0))
	}
	if len(conds) > 0 {
		// The empty coordinate (c0 NULL) is in every range.
		q += ` AND (c0 IS NULL OR (` + strings.Join(conds, ` AND `) + `))` // #nosec G202 -- conds are fixed fragments with bound parameters
	}
	q += ` ORDER BY coord_key`
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("embedded range in %s: %w", ns, err)
	}
	defer rows.Close()
	out := []domain.Coordinate{}
	var blob []byte
	for rows.Next() {
		if err := rows.Scan(&blob); err != nil {
			return nil, fmt.Errorf("embedded range in %s: %w", ns, err)
		}
		c, err := decodeCoordinate(blob)
		if err != nil {
			return nil, fmt.Errorf("embedded range in %s: stored coordinate: %w", ns, err)
		}
		if !c.InRange(lo, hi) {
			continue
		}
		out = append(out, c)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("embedded range in %s: %w", ns, err)
	}
	return out, nil
}

// Counts returns the number of memories of namespace ns, in total and by
// type (zeros for an unknown namespace).
func (s *Store) Counts(ctx context.Context, ns string) (total, episodic, semantic int64, err error) {
	err = s.rdb.QueryRowContext(ctx, `SELECT total, episodic, semantic FROM namespace_counts WHERE namespace = ?`, ns).
		Scan(&total, &episodic, &semantic)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, 0, nil
	}
	if err != nil {
		return 0, 0, 0, fmt.Errorf("embedded counts of %s: %w", ns, err)
	}
	return total, episodic, semantic, nil
}

// Export calls fn with every memory of namespace ns, ordered by
// coordinate key (byte order). It reads pages of records, so no read
// transaction stays open while fn runs (fn may call the store); a memory
// written during the walk may or may not be seen. fn's error stops the
// walk and is returned as is.
func (s *Store) Export(ctx context.Context, ns string, fn func(domain.Memory) error) error {
	after, first := "", true
	for {
		op := ">"
		if first {
			op = ">=" // the empty coordinate's key is ""
		}
		page, last, err := s.exportPage(ctx, ns, op, after)
		if err != nil {
			return fmt.Errorf("embedded export of %s: %w", ns, err)
		}
		for _, m := range page {
			if err := fn(m); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		after, first = last, false
	}
}

func (s *Store) exportPage(ctx context.Context, ns, op, after string) ([]domain.Memory, string, error) {
	// #nosec G202 -- recordColumns is a constant and op is ">" or ">=" (chosen by Export); values are bound parameters
	rows, err := s.rdb.QueryContext(ctx, `SELECT coord_key, `+recordColumns+` FROM records
WHERE namespace = ? AND coord_key `+op+` ? ORDER BY coord_key LIMIT ?`, ns, after, exportPage)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	page := make([]domain.Memory, 0, exportPage)
	var key string
	for rows.Next() {
		m, err := scanMemory(ns, prefixScanner{rows, &key})
		if err != nil {
			return nil, "", err
		}
		page = append(page, m)
	}
	return page, key, rows.Err()
}

// HistoryEntry is one applied event of a memory.
type HistoryEntry struct {
	// Seq orders the entries (event_log.seq; the log position in
	// direct-write mode).
	Seq        int64
	EventID    string
	EventType  string // a domain.Event* constant
	OccurredAt time.Time
	// Source, Partition and Offset are the event's log position.
	Source    string
	Partition int32
	Offset    int64
	// Event is the body decoded by the configured EventDecoder.
	Event domain.Event
}

// History returns the last limit events (none when limit <= 0) whose
// subject is coord in namespace ns (for links: the source coordinate), in
// log order, oldest first. Events that changed nothing (a link from a
// coordinate without memory) are included: the history is of the log.
func (s *Store) History(ctx context.Context, ns string, coord domain.Coordinate, limit int) ([]HistoryEntry, error) {
	out := []HistoryEntry{}
	if limit <= 0 {
		return out, nil
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT seq, source, partition, "offset", event_id, event_type, occurred_at, body FROM (
    SELECT * FROM event_log WHERE namespace = ? AND coord_key = ? ORDER BY seq DESC LIMIT ?
) ORDER BY seq`, ns, coord.Key(), limit)
	if err != nil {
		return nil, fmt.Errorf("embedded history of %s/%s: %w", ns, coord.Key(), err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			h    HistoryEntry
			at   string
			body []byte
		)
		if err := rows.Scan(&h.Seq, &h.Source, &h.Partition, &h.Offset, &h.EventID, &h.EventType, &at, &body); err != nil {
			return nil, fmt.Errorf("embedded history of %s/%s: %w", ns, coord.Key(), err)
		}
		if h.OccurredAt, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("embedded history of %s/%s: seq %d: %w", ns, coord.Key(), h.Seq, err)
		}
		if h.Event, err = s.cfg.Decoder.DecodeBody(body); err != nil {
			return nil, fmt.Errorf("embedded history of %s/%s: decode seq %d: %w", ns, coord.Key(), h.Seq, err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("embedded history of %s/%s: %w", ns, coord.Key(), err)
	}
	return out, nil
}

// Events returns up to limit event_log rows with seq > afterSeq, in log
// order, decoded, with their log positions: the replay source of
// direct-write mode, where every row is of consistency.EventLogSource and
// Offset = seq (so the next page starts after the last Offset).
func (s *Store) Events(ctx context.Context, afterSeq int64, limit int) ([]projections.Envelope, error) {
	out := []projections.Envelope{}
	if limit <= 0 {
		return out, nil
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT seq, source, partition, "offset", body FROM event_log WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("embedded events after %d: %w", afterSeq, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			seq  int64
			env  projections.Envelope
			body []byte
		)
		if err := rows.Scan(&seq, &env.Source, &env.Partition, &env.Offset, &body); err != nil {
			return nil, fmt.Errorf("embedded events after %d: %w", afterSeq, err)
		}
		if env.Event, err = s.cfg.Decoder.DecodeBody(body); err != nil {
			return nil, fmt.Errorf("embedded events: decode seq %d: %w", seq, err)
		}
		out = append(out, env)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("embedded events after %d: %w", afterSeq, err)
	}
	return out, nil
}

// Vector returns the embedding stored for the memory at coord, of
// whatever model (ok false when there is none).
func (s *Store) Vector(ctx context.Context, ns string, coord domain.Coordinate) ([]float32, bool, error) {
	var blob []byte
	err := s.rdb.QueryRowContext(ctx, `SELECT embedding FROM vectors WHERE namespace = ? AND coord_key = ?`, ns, coord.Key()).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("embedded vector of %s/%s: %w", ns, coord.Key(), err)
	}
	return decodeVector(blob, nil), true, nil
}

// Search runs q on the vector index. Before any vector was stored (and
// with no configured model) every query has no results; otherwise a
// query of another model or dimension fails with an error wrapping
// vectorindex.ErrModelMismatch.
func (s *Store) Search(ctx context.Context, q vectorindex.Query) ([]vectorindex.Result, error) {
	if s.isClosed.Load() {
		return nil, ErrClosed
	}
	s.imu.RLock()
	idx, model, dim := s.idx, s.model, s.dim
	s.imu.RUnlock()
	if idx != nil {
		return idx.Search(ctx, q)
	}
	if model != "" && ((q.Model != "" && q.Model != model) || (dim > 0 && len(q.Vector) != dim)) {
		return nil, fmt.Errorf("%w: query of %q, index of %q", vectorindex.ErrModelMismatch, q.Model, model)
	}
	if q.TopK < 1 {
		return nil, fmt.Errorf("%w: top k %d, want at least 1", vectorindex.ErrInvalidQuery, q.TopK)
	}
	return []vectorindex.Result{}, nil
}
