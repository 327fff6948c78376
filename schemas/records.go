package schemas

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/somafractalmemory/soma/domain"
)

// The structs of this file mirror the latest version of each record. They
// are wire types, never domain types: toRecord and toEvent are the only
// places that know both. A new schema version with a new field gets the
// field here too (decoding resolves older writers into it; encoding a
// struct that lacks a field with a default writes the default).

type metaRecord struct {
	EventID        string  `avro:"event_id"`
	Namespace      string  `avro:"namespace"`
	OccurredAt     int64   `avro:"occurred_at"` // timestamp-micros
	IdempotencyKey *string `avro:"idempotency_key"`
	Actor          *string `avro:"actor"`
}

type memoryStoredRecord struct {
	metaRecord
	Coordinate     []float64 `avro:"coordinate"`
	Payload        string    `avro:"payload"`
	MemoryType     string    `avro:"memory_type"`
	Importance     *float64  `avro:"importance"`
	ImportanceNorm float64   `avro:"importance_norm"`
	Embedding      []float32 `avro:"embedding"`
	EmbeddingModel string    `avro:"embedding_model"`
}

type memoryDeletedRecord struct {
	metaRecord
	Coordinate []float64 `avro:"coordinate"`
}

type memoriesLinkedRecord struct {
	metaRecord
	FromCoordinate []float64 `avro:"from_coordinate"`
	ToCoordinate   []float64 `avro:"to_coordinate"`
	LinkType       string    `avro:"link_type"`
	Weight         float64   `avro:"weight"`
}

type memoryUnlinkedRecord struct {
	metaRecord
	FromCoordinate []float64 `avro:"from_coordinate"`
	ToCoordinate   []float64 `avro:"to_coordinate"`
}

type memoryImportanceSetRecord struct {
	metaRecord
	Coordinate     []float64 `avro:"coordinate"`
	Importance     float64   `avro:"importance"`
	ImportanceNorm float64   `avro:"importance_norm"`
}

// newRecord returns a pointer to an empty record struct of event.
func newRecord(event string) (any, bool) {
	switch event {
	case domain.EventMemoryStored:
		return &memoryStoredRecord{}, true
	case domain.EventMemoryDeleted:
		return &memoryDeletedRecord{}, true
	case domain.EventMemoriesLinked:
		return &memoriesLinkedRecord{}, true
	case domain.EventMemoryUnlinked:
		return &memoryUnlinkedRecord{}, true
	case domain.EventMemoryImportanceSet:
		return &memoryImportanceSetRecord{}, true
	}
	return nil, false
}

// toRecord maps a domain event to its wire struct (a pointer) and name.
func toRecord(e domain.Event) (string, any, error) {
	var (
		name string
		rec  any
	)
	if e == nil {
		return "", nil, fmt.Errorf("%w: nil event", ErrInvalidEvent)
	}
	switch e := e.(type) {
	case domain.MemoryStored:
		name, rec = domain.EventMemoryStored, storedRecord(&e)
	case *domain.MemoryStored:
		if e == nil {
			return "", nil, fmt.Errorf("%w: nil %T", ErrInvalidEvent, e)
		}
		name, rec = domain.EventMemoryStored, storedRecord(e)
	case domain.MemoryDeleted:
		name, rec = domain.EventMemoryDeleted, deletedRecord(&e)
	case *domain.MemoryDeleted:
		if e == nil {
			return "", nil, fmt.Errorf("%w: nil %T", ErrInvalidEvent, e)
		}
		name, rec = domain.EventMemoryDeleted, deletedRecord(e)
	case domain.MemoriesLinked:
		name, rec = domain.EventMemoriesLinked, linkedRecord(&e)
	case *domain.MemoriesLinked:
		if e == nil {
			return "", nil, fmt.Errorf("%w: nil %T", ErrInvalidEvent, e)
		}
		name, rec = domain.EventMemoriesLinked, linkedRecord(e)
	case domain.MemoryUnlinked:
		name, rec = domain.EventMemoryUnlinked, unlinkedRecord(&e)
	case *domain.MemoryUnlinked:
		if e == nil {
			return "", nil, fmt.Errorf("%w: nil %T", ErrInvalidEvent, e)
		}
		name, rec = domain.EventMemoryUnlinked, unlinkedRecord(e)
	case domain.MemoryImportanceSet:
		name, rec = domain.EventMemoryImportanceSet, importanceSetRecord(&e)
	case *domain.MemoryImportanceSet:
		if e == nil {
			return "", nil, fmt.Errorf("%w: nil %T", ErrInvalidEvent, e)
		}
		name, rec = domain.EventMemoryImportanceSet, importanceSetRecord(e)
	default:
		return "", nil, fmt.Errorf("%w: unsupported event type %T", ErrInvalidEvent, e)
	}
	if r, ok := rec.(*memoryStoredRecord); ok {
		if _, err := memoryType(r.MemoryType); err != nil {
			return "", nil, fmt.Errorf("%w: %s memory type %q is neither %q nor %q", ErrInvalidEvent, name, r.MemoryType, domain.Episodic, domain.Semantic)
		}
	}
	if err := uuid.Validate(e.Metadata().EventID); err != nil {
		return "", nil, fmt.Errorf("%w: %s event_id %q is not a UUID", ErrInvalidEvent, name, e.Metadata().EventID)
	}
	return name, rec, nil
}

func metaToRecord(m domain.EventMeta) metaRecord {
	return metaRecord{
		EventID:        m.EventID,
		Namespace:      m.Namespace,
		OccurredAt:     m.OccurredAt.UnixMicro(),
		IdempotencyKey: optString(m.IdempotencyKey),
		Actor:          optString(m.Actor),
	}
}

func storedRecord(e *domain.MemoryStored) *memoryStoredRecord {
	return &memoryStoredRecord{
		metaRecord:     metaToRecord(e.EventMeta),
		Coordinate:     e.Coordinate.Values(),
		Payload:        string(e.Payload),
		MemoryType:     string(e.Type),
		Importance:     e.Importance,
		ImportanceNorm: e.ImportanceNorm,
		Embedding:      e.Embedding,
		EmbeddingModel: e.EmbeddingModel,
	}
}

func deletedRecord(e *domain.MemoryDeleted) *memoryDeletedRecord {
	return &memoryDeletedRecord{metaRecord: metaToRecord(e.EventMeta), Coordinate: e.Coordinate.Values()}
}

func linkedRecord(e *domain.MemoriesLinked) *memoriesLinkedRecord {
	return &memoriesLinkedRecord{
		metaRecord:     metaToRecord(e.EventMeta),
		FromCoordinate: e.From.Values(),
		ToCoordinate:   e.To.Values(),
		LinkType:       e.LinkType,
		Weight:         e.Weight,
	}
}

func unlinkedRecord(e *domain.MemoryUnlinked) *memoryUnlinkedRecord {
	return &memoryUnlinkedRecord{
		metaRecord:     metaToRecord(e.EventMeta),
		FromCoordinate: e.From.Values(),
		ToCoordinate:   e.To.Values(),
	}
}

func importanceSetRecord(e *domain.MemoryImportanceSet) *memoryImportanceSetRecord {
	return &memoryImportanceSetRecord{
		metaRecord:     metaToRecord(e.EventMeta),
		Coordinate:     e.Coordinate.Values(),
		Importance:     e.Importance,
		ImportanceNorm: e.ImportanceNorm,
	}
}

// toEvent maps a decoded wire struct back to its domain event (a value,
// e.g. domain.MemoryStored). Values the domain rejects (a non-finite
// coordinate, an unknown memory type) make the event malformed.
func toEvent(rec any) (domain.Event, error) {
	switch r := rec.(type) {
	case *memoryStoredRecord:
		meta, err := metaFromRecord(&r.metaRecord)
		if err != nil {
			return nil, err
		}
		c, err := coordinate("coordinate", r.Coordinate)
		if err != nil {
			return nil, err
		}
		t, err := memoryType(r.MemoryType)
		if err != nil {
			return nil, err
		}
		var payload json.RawMessage
		if r.Payload != "" {
			payload = json.RawMessage(r.Payload)
		}
		return domain.MemoryStored{
			EventMeta:      meta,
			Coordinate:     c,
			Payload:        payload,
			Type:           t,
			Importance:     r.Importance,
			ImportanceNorm: r.ImportanceNorm,
			Embedding:      r.Embedding,
			EmbeddingModel: r.EmbeddingModel,
		}, nil
	case *memoryDeletedRecord:
		meta, err := metaFromRecord(&r.metaRecord)
		if err != nil {
			return nil, err
		}
		c, err := coordinate("coordinate", r.Coordinate)
		if err != nil {
			return nil, err
		}
		return domain.MemoryDeleted{EventMeta: meta, Coordinate: c}, nil
	case *memoriesLinkedRecord:
		meta, err := metaFromRecord(&r.metaRecord)
		if err != nil {
			return nil, err
		}
		from, err := coordinate("from_coordinate", r.FromCoordinate)
		if err != nil {
			return nil, err
		}
		to, err := coordinate("to_coordinate", r.ToCoordinate)
		if err != nil {
			return nil, err
		}
		return domain.MemoriesLinked{EventMeta: meta, From: from, To: to, LinkType: r.LinkType, Weight: r.Weight}, nil
	case *memoryUnlinkedRecord:
		meta, err := metaFromRecord(&r.metaRecord)
		if err != nil {
			return nil, err
		}
		from, err := coordinate("from_coordinate", r.FromCoordinate)
		if err != nil {
			return nil, err
		}
		to, err := coordinate("to_coordinate", r.ToCoordinate)
		if err != nil {
			return nil, err
		}
		return domain.MemoryUnlinked{EventMeta: meta, From: from, To: to}, nil
	case *memoryImportanceSetRecord:
		meta, err := metaFromRecord(&r.metaRecord)
		if err != nil {
			return nil, err
		}
		c, err := coordinate("coordinate", r.Coordinate)
		if err != nil {
			return nil, err
		}
		return domain.MemoryImportanceSet{EventMeta: meta, Coordinate: c, Importance: r.Importance, ImportanceNorm: r.ImportanceNorm}, nil
	}
	return nil, fmt.Errorf("%w: no mapping for %T", ErrMalformed, rec)
}

func metaFromRecord(r *metaRecord) (domain.EventMeta, error) {
	if err := uuid.Validate(r.EventID); err != nil {
		return domain.EventMeta{}, fmt.Errorf("%w: event_id %q is not a UUID", ErrMalformed, r.EventID)
	}
	return domain.EventMeta{
		EventID:        r.EventID,
		Namespace:      r.Namespace,
		OccurredAt:     time.UnixMicro(r.OccurredAt).UTC(),
		IdempotencyKey: fromOptString(r.IdempotencyKey),
		Actor:          fromOptString(r.Actor),
	}, nil
}

func coordinate(field string, vals []float64) (domain.Coordinate, error) {
	c, err := domain.NewCoordinate(vals)
	if err != nil {
		return domain.Coordinate{}, fmt.Errorf("%w: %s: %v", ErrMalformed, field, err)
	}
	return c, nil
}

func memoryType(s string) (domain.MemoryType, error) {
	switch domain.MemoryType(s) {
	case domain.Episodic:
		return domain.Episodic, nil
	case domain.Semantic:
		return domain.Semantic, nil
	}
	return "", fmt.Errorf("%w: memory_type %q", ErrMalformed, s)
}

// optString maps the domain's "" (absent) to Avro null.
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func fromOptString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
