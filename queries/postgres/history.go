package postgres

import (
	"context"
	"encoding/json"
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
			Event:      EventFields(ev),
		})
	}
	return out, nil
}

// EventFields is the JSON-friendly form of an event, with the field names
// of its Avro schema: event_id, namespace, occurred_at (RFC 3339),
// idempotency_key and actor (null when empty), then the fields of the
// event type. Coordinates are arrays of numbers; a MemoryStored's payload
// is the stored JSON object itself, and its embedding is summarised by
// embedding_model and embedding_dim (the vector is left out). A nil or
// unknown event gives nil.
func EventFields(ev domain.Event) map[string]any {
	if ev == nil {
		return nil
	}
	m := ev.Metadata()
	out := map[string]any{
		"event_id":        m.EventID,
		"namespace":       m.Namespace,
		"occurred_at":     m.OccurredAt.UTC().Format(time.RFC3339Nano),
		"idempotency_key": nullable(m.IdempotencyKey),
		"actor":           nullable(m.Actor),
	}
	switch e := ev.(type) {
	case *domain.MemoryStored:
		return storedFields(out, *e)
	case domain.MemoryStored:
		return storedFields(out, e)
	case *domain.MemoryDeleted:
		out["coordinate"] = e.Coordinate
	case domain.MemoryDeleted:
		out["coordinate"] = e.Coordinate
	case *domain.MemoriesLinked:
		return linkedFields(out, *e)
	case domain.MemoriesLinked:
		return linkedFields(out, e)
	case *domain.MemoryUnlinked:
		out["from_coordinate"], out["to_coordinate"] = e.From, e.To
	case domain.MemoryUnlinked:
		out["from_coordinate"], out["to_coordinate"] = e.From, e.To
	case *domain.MemoryImportanceSet:
		out["coordinate"], out["importance"], out["importance_norm"] = e.Coordinate, e.Importance, e.ImportanceNorm
	case domain.MemoryImportanceSet:
		out["coordinate"], out["importance"], out["importance_norm"] = e.Coordinate, e.Importance, e.ImportanceNorm
	default:
		return nil
	}
	return out
}

func storedFields(out map[string]any, e domain.MemoryStored) map[string]any {
	out["coordinate"] = e.Coordinate
	if json.Valid(e.Payload) {
		out["payload"] = json.RawMessage(e.Payload)
	} else {
		out["payload"] = string(e.Payload)
	}
	out["memory_type"] = string(e.Type)
	if e.Importance != nil {
		out["importance"] = *e.Importance
	} else {
		out["importance"] = nil
	}
	out["importance_norm"] = e.ImportanceNorm
	out["embedding_model"] = e.EmbeddingModel
	out["embedding_dim"] = len(e.Embedding)
	return out
}

func linkedFields(out map[string]any, e domain.MemoriesLinked) map[string]any {
	out["from_coordinate"], out["to_coordinate"] = e.From, e.To
	out["link_type"], out["weight"] = e.LinkType, e.Weight
	return out
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
