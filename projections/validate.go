package projections

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/somafractalmemory/soma/domain"
)

// Normalize returns the value form of e (pointers dereferenced), or the
// reason why e can never be applied. Every read model calls it, so an event
// is poison for all of them or for none; the rules are those of the
// strictest store (jsonb cannot hold a \u0000 character). The write side
// guarantees them, but the log may hold events written by other versions.
func Normalize(e domain.Event) (domain.Event, string) {
	switch v := e.(type) {
	case nil:
		return nil, "nil event"
	case *domain.MemoryStored:
		if v == nil {
			return nil, "nil event"
		}
		return Normalize(*v)
	case *domain.MemoryDeleted:
		if v == nil {
			return nil, "nil event"
		}
		return Normalize(*v)
	case *domain.MemoriesLinked:
		if v == nil {
			return nil, "nil event"
		}
		return Normalize(*v)
	case *domain.MemoryUnlinked:
		if v == nil {
			return nil, "nil event"
		}
		return Normalize(*v)
	case *domain.MemoryImportanceSet:
		if v == nil {
			return nil, "nil event"
		}
		return Normalize(*v)
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
		case !utf8.ValidString(v.EmbeddingModel) || strings.IndexByte(v.EmbeddingModel, 0) >= 0:
			return nil, "embedding model is not valid UTF-8 without NUL bytes"
		}
		for i, f := range v.Embedding {
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				return nil, fmt.Sprintf("embedding value %d is not finite", i)
			}
		}
		if r := checkPayload(v.Payload); r != "" {
			return nil, r
		}
		return v, ""
	case domain.MemoryDeleted:
		return v, checkMeta(v.EventMeta)
	case domain.MemoriesLinked:
		if r := checkMeta(v.EventMeta); r != "" {
			return nil, r
		}
		switch {
		case !finite(v.Weight) || v.Weight < 0:
			return nil, fmt.Sprintf("weight %v is not a finite number >= 0", v.Weight)
		case strings.IndexByte(v.LinkType, 0) >= 0:
			return nil, "link type contains a NUL byte"
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
	if y := m.OccurredAt.Year(); y < 1 || y > 9999 {
		return fmt.Sprintf("occurred_at %v is out of range", m.OccurredAt)
	}
	return ""
}

// checkPayload accepts a JSON object that jsonb can store: jsonb rejects
// the \u0000 escape, which encoding/json accepts.
func checkPayload(p json.RawMessage) string {
	t := bytes.TrimSpace(p)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return "payload is not a JSON object"
	}
	if bytes.Contains(t, []byte(`\u0000`)) {
		var v any
		if err := json.Unmarshal(t, &v); err != nil {
			return "payload is not a JSON object"
		}
		if hasNUL(v) {
			return `payload contains a \u0000 character, which jsonb cannot store`
		}
	}
	return ""
}

func hasNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.IndexByte(v, 0) >= 0
	case []any:
		for _, x := range v {
			if hasNUL(x) {
				return true
			}
		}
	case map[string]any:
		for k, x := range v {
			if strings.IndexByte(k, 0) >= 0 || hasNUL(x) {
				return true
			}
		}
	}
	return false
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
