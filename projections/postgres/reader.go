package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/somafractalmemory/soma/domain"
)

// The read helpers below serve the query side and the contract suite. They
// read committed state only and are safe for concurrent use.

// Get returns the memory at coord in namespace ns; ok is false when there
// is none.
func (p *Projection) Get(ctx context.Context, ns string, coord domain.Coordinate) (m domain.Memory, ok bool, err error) {
	if p.err != nil {
		return domain.Memory{}, false, p.err
	}
	var (
		vals    []float64
		mt      string
		payload []byte
		model   string
		eventID uuid.UUID
	)
	m.Namespace = ns
	err = p.pool.QueryRow(ctx, p.q.getRecord, ns, coord.Key()).Scan(
		&vals, &mt, &payload, &m.Importance, &m.ImportanceNorm, &model, &m.StoredAt, &m.UpdatedAt, &m.Version, &eventID)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Memory{}, false, nil
	}
	if err != nil {
		return domain.Memory{}, false, fmt.Errorf("postgres get %s/%s: %w", ns, coord.Key(), err)
	}
	if m.Coordinate, err = domain.NewCoordinate(vals); err != nil {
		return domain.Memory{}, false, fmt.Errorf("postgres get %s/%s: stored coordinate: %w", ns, coord.Key(), err)
	}
	if m.Payload, err = decodePayload(payload); err != nil {
		return domain.Memory{}, false, fmt.Errorf("postgres get %s/%s: stored payload: %w", ns, coord.Key(), err)
	}
	m.Type = domain.MemoryType(mt)
	m.StoredAt, m.UpdatedAt = m.StoredAt.UTC(), m.UpdatedAt.UTC()
	m.LastEventID = eventID.String()
	return m, true, nil
}

// Neighbors returns the outgoing edges of coord in insertion order, only
// those of linkType when it is not empty, at most limit of them (none when
// limit <= 0). An unknown coordinate has no edges.
func (p *Projection) Neighbors(ctx context.Context, ns string, coord domain.Coordinate, linkType string, limit int) ([]domain.Link, error) {
	if p.err != nil {
		return nil, p.err
	}
	if limit <= 0 {
		return []domain.Link{}, nil
	}
	rows, err := p.pool.Query(ctx, p.q.neighbors, ns, coord.Key(), linkType, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres neighbors of %s/%s: %w", ns, coord.Key(), err)
	}
	out := []domain.Link{}
	var (
		to []float64
		l  domain.Link
	)
	_, err = pgx.ForEachRow(rows, []any{&to, &l.Type, &l.Weight, &l.CreatedAt}, func() error {
		c, err := domain.NewCoordinate(to)
		if err != nil {
			return fmt.Errorf("stored target coordinate: %w", err)
		}
		out = append(out, domain.Link{From: coord, To: c, Type: l.Type, Weight: l.Weight, CreatedAt: l.CreatedAt.UTC()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres neighbors of %s/%s: %w", ns, coord.Key(), err)
	}
	return out, nil
}

// Counts returns the number of memories of namespace ns, in total and by
// type (zeros for an unknown namespace). It reads one row.
func (p *Projection) Counts(ctx context.Context, ns string) (total, episodic, semantic int64, err error) {
	if p.err != nil {
		return 0, 0, 0, p.err
	}
	err = p.pool.QueryRow(ctx, p.q.counts, ns).Scan(&total, &episodic, &semantic)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, 0, nil
	}
	if err != nil {
		return 0, 0, 0, fmt.Errorf("postgres counts of %s: %w", ns, err)
	}
	return total, episodic, semantic, nil
}

// Exists reports, for each canonical coordinate key (domain.Coordinate.Key)
// in keys, whether namespace ns holds a memory there. Every key of keys is
// in the result.
func (p *Projection) Exists(ctx context.Context, ns string, keys []string) (map[string]bool, error) {
	if p.err != nil {
		return nil, p.err
	}
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[k] = false
	}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := p.pool.Query(ctx, p.q.exists, ns, keys)
	if err != nil {
		return nil, fmt.Errorf("postgres exists in %s: %w", ns, err)
	}
	var k string
	if _, err := pgx.ForEachRow(rows, []any{&k}, func() error {
		out[k] = true
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgres exists in %s: %w", ns, err)
	}
	return out, nil
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
	// Body is the event as encoded by the configured EventEncoder.
	Body []byte
}

// History returns the last limit events (none when limit <= 0) whose
// subject is coord in namespace ns (for links: the source coordinate), in
// log order, oldest first. Events that changed nothing (a link from a
// coordinate without memory) are included: the history is of the log.
func (p *Projection) History(ctx context.Context, ns string, coord domain.Coordinate, limit int) ([]HistoryEntry, error) {
	if p.err != nil {
		return nil, p.err
	}
	if limit <= 0 {
		return []HistoryEntry{}, nil
	}
	rows, err := p.pool.Query(ctx, p.q.history, ns, coord.Key(), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres history of %s/%s: %w", ns, coord.Key(), err)
	}
	out := []HistoryEntry{}
	var (
		h  HistoryEntry
		id uuid.UUID
	)
	_, err = pgx.ForEachRow(rows, []any{&h.Seq, &h.Source, &h.Partition, &h.Offset, &id, &h.EventType, &h.OccurredAt, &h.Body}, func() error {
		e := h
		e.EventID = id.String()
		e.OccurredAt = e.OccurredAt.UTC()
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres history of %s/%s: %w", ns, coord.Key(), err)
	}
	return out, nil
}

// decodePayload decodes a stored payload the way domain.MemoryFromStored
// does: a JSON object, numbers kept as json.Number.
func decodePayload(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
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
