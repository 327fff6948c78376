package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/queries"
)

// EventDecoder turns an event_log body (as the projection's EventEncoder
// wrote it) back into the event. The schemas package's codec provides the
// Avro one; it is the projection's EventDecoder.
type EventDecoder interface {
	DecodeBody([]byte) (domain.Event, error)
}

// History reads memories' event histories from the event_log table.
type History struct {
	store *Store
	dec   EventDecoder
}

var _ queries.HistoryReader = (*History)(nil)

// NewHistory returns the history reader of schema (the default schema when
// empty), decoding bodies with dec. Like New it does no I/O; an invalid
// schema, a nil pool or a nil decoder makes every call fail.
func NewHistory(pool *pgxpool.Pool, schema string, dec EventDecoder) *History {
	h := &History{store: New(pool, schema), dec: dec}
	if dec == nil && h.store.err == nil {
		h.store.err = errors.New("postgres history: nil decoder")
	}
	return h
}

// History returns the last limit events (none when limit ≤ 0) whose
// subject is coord in namespace (for links: the source coordinate),
// oldest first, in the order they were applied: the projection's History,
// with each body decoded into Event (see EventFields). An undecodable body
// fails the whole call.
func (h *History) History(ctx context.Context, namespace string, coord domain.Coordinate, limit int) ([]queries.HistoryEntry, error) {
	s := h.store
	if s.err != nil {
		return nil, s.err
	}
	rows, err := s.proj.History(ctx, namespace, coord, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres %s: %w", s.schema, classify(err))
	}
	out := make([]queries.HistoryEntry, 0, len(rows))
	for _, r := range rows {
		ev, err := h.dec.DecodeBody(r.Body)
		if err != nil {
			return nil, fmt.Errorf("postgres %s: history of %s/%s: decode event %s (%s at %s[%d]@%d): %w",
				s.schema, namespace, coord.Key(), r.EventID, r.EventType, r.Source, r.Partition, r.Offset, err)
		}
		out = append(out, queries.HistoryEntry{
			EventID:    r.EventID,
			EventType:  r.EventType,
			OccurredAt: r.OccurredAt.UTC().Format(time.RFC3339Nano),
			Source:     r.Source,
			Partition:  r.Partition,
			Offset:     r.Offset,
			Event:      queries.EventFields(ev),
		})
	}
	return out, nil
}
