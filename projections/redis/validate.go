package redis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/somafractalmemory/soma/domain"
)

// normalize returns the value form of e (pointers dereferenced), or the
// reason why e can never be applied. The checks are those every read
// model makes, so that an event is poison for all of them or for none:
// the write side guarantees them, but the log may hold events written by
// other versions.
func normalize(e domain.Event) (domain.Event, string) {
	switch v := e.(type) {
	case nil:
		return nil, "nil event"
	case *domain.MemoryStored:
		if v == nil {
			return nil, "nil event"
		}
		return normalize(*v)
	case *domain.MemoryDeleted:
		if v == nil {
			return nil, "nil event"
		}
		return normalize(*v)
	case *domain.MemoriesLinked:
		if v == nil {
			return nil, "nil event"
		}
		return normalize(*v)
	case *domain.MemoryUnlinked:
		if v == nil {
			return nil, "nil event"
		}
		return normalize(*v)
	case *domain.MemoryImportanceSet:
		if v == nil {
			return nil, "nil event"
		}
		return normalize(*v)
	case domain.MemoryStored:
		if r := checkMeta(v.EventMeta); r != "" {
			return nil, r
		}
		switch {
		case v.Type != domain.Episodic && v.Type != domain.Semantic:
			return nil, fmt.Sprintf("memory type %q is neither %q nor %q", v.Type, domain.Episodic, domain.Semantic)
		case v.Importance != nil && !finite(*v.Importance):
			return nil, "importance is not finite"
		case !finite(v.ImportanceNorm) || v.ImportanceNorm < 0 || v.ImportanceNorm > 1:
			return nil, fmt.Sprintf("importance_norm %v is not in [0,1]", v.ImportanceNorm)
		}
		for i, f := range v.Embedding {
			if !finite(float64(f)) {
				return nil, fmt.Sprintf("embedding value %d is not finite", i)
			}
		}
		if payloadObject(v.Payload) == nil {
			return nil, "payload is not a JSON object"
		}
		return v, ""
	case domain.MemoryDeleted:
		return v, checkMeta(v.EventMeta)
	case domain.MemoriesLinked:
		if r := checkMeta(v.EventMeta); r != "" {
			return nil, r
		}
		if !finite(v.Weight) || v.Weight < 0 {
			return nil, fmt.Sprintf("weight %v is not a finite number >= 0", v.Weight)
		}
		return v, ""
	case domain.MemoryUnlinked:
		return v, checkMeta(v.EventMeta)
	case domain.MemoryImportanceSet:
		if r := checkMeta(v.EventMeta); r != "" {
			return nil, r
		}
		switch {
		case !finite(v.Importance):
			return nil, "importance is not finite"
		case !finite(v.ImportanceNorm) || v.ImportanceNorm < 0 || v.ImportanceNorm > 1:
			return nil, fmt.Sprintf("importance_norm %v is not in [0,1]", v.ImportanceNorm)
		}
		return v, ""
	}
	return nil, fmt.Sprintf("unsupported event type %T", e)
}

func checkMeta(m domain.EventMeta) string {
	if err := domain.ValidateMeta(m); err != nil {
		return err.Error()
	}
	if _, err := uuid.Parse(m.EventID); err != nil {
		return fmt.Sprintf("event_id %q is not a UUID", m.EventID)
	}
	if y := m.OccurredAt.UTC().Year(); y < 1 || y > 9999 {
		return fmt.Sprintf("occurred_at %v is out of range", m.OccurredAt)
	}
	return ""
}

// payloadObject returns the payload without surrounding white space when
// it is exactly one JSON object (what domain.MemoryFromStored accepts),
// nil otherwise.
func payloadObject(p json.RawMessage) []byte {
	t := bytes.TrimSpace(p)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return nil
	}
	return t
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// formatTime is the stored form of a time: RFC 3339 in UTC with
// nanoseconds, which parseTime reads back exactly.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}
