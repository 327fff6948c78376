package embedded

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/vectorindex"
)

// item is one event of a batch that passed validation.
type item struct {
	idx  int // index in the batch given to Apply or Append
	ev   domain.Event
	id   string // canonical UUID text
	ns   string
	key  string // canonical key of the subject coordinate
	src  string
	part int32
	off  int64
	// Of MemoryStored events: the payload's filterable top-level fields.
	fields vectorindex.Fields
}

// normalize returns the value form of e, or the reason why e can never be
// applied. The checks are those of every read model (the log may hold
// events written by other versions), so that an event is poison for all
// of them alike.
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
		case !utf8.ValidString(v.EmbeddingModel) || strings.IndexByte(v.EmbeddingModel, 0) >= 0:
			return nil, "embedding model is not valid UTF-8 without NUL bytes"
		}
		for i, f := range v.Embedding {
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				return nil, fmt.Sprintf("embedding value %d is not finite", i)
			}
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
	if y := m.OccurredAt.Year(); y < 1 || y > 9999 {
		return fmt.Sprintf("occurred_at %v is out of range", m.OccurredAt)
	}
	return ""
}

// payloadFields checks that p is one JSON object and returns its
// filterable top-level fields.
func payloadFields(p json.RawMessage) (vectorindex.Fields, string) {
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, "payload is not a JSON object"
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "payload has trailing data after the object"
	}
	return vectorindex.PayloadFields(obj), ""
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
