package queries

import (
	"encoding/json"
	"time"

	"github.com/somafractalmemory/soma/domain"
)

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
