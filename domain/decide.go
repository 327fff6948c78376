package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// StoreMemory stores (or replaces) the memory at Coordinate.
type StoreMemory struct {
	Coordinate Coordinate
	// Payload is the caller's JSON object; it must be non-nil and
	// JSON-encodable (no NaN or ±Inf numbers).
	Payload map[string]any
	// Type is Episodic or Semantic; empty means Episodic (the HTTP layer
	// maps request strings with MemoryTypeForStore).
	Type MemoryType
	// Importance is the caller's raw importance (finite), nil when not given.
	// The HTTP layer takes it from the payload's "importance" key when that
	// is a number; the key itself stays in the payload as given.
	Importance *float64
	// Embedding is the memory's vector: non-empty, every value finite.
	Embedding []float32
	// EmbeddingModel identifies the embedder and dimension ("hash-v1/384").
	EmbeddingModel string
}

// DecideStore validates cmd and returns the MemoryStored event.
//
//   - Episodic payloads without a "timestamp" key get one: meta.OccurredAt
//     as epoch seconds (float64, sub-second precision). A caller-supplied
//     timestamp, of any JSON type, is kept.
//   - importanceNorm is the value the caller's normaliser returned for
//     *cmd.Importance; it must be in [0,1]. When cmd.Importance is nil the
//     event carries NeutralImportance and importanceNorm is ignored.
//   - The payload is encoded deterministically (sorted keys, no HTML
//     escaping, json.Number kept as its text); cmd.Payload and
//     cmd.Embedding are not modified or retained.
//
// Invalid meta or command fields give ValidationErrors; an importanceNorm
// outside [0,1] is a caller bug and gives a plain error.
func DecideStore(meta EventMeta, cmd StoreMemory, importanceNorm float64) (MemoryStored, error) {
	var errs ValidationErrors
	meta.validate(&errs)

	typ := cmd.Type
	switch typ {
	case "":
		typ = Episodic
	case Episodic, Semantic:
	default:
		errs.add("type", fmt.Sprintf("%q is neither %q nor %q", cmd.Type, Episodic, Semantic), ErrInvalidMemoryType)
	}

	var payload json.RawMessage
	if cmd.Payload == nil {
		errs.add("payload", "must be a JSON object", nil)
	} else {
		p := cmd.Payload
		if _, ok := p[PayloadKeyTimestamp]; !ok && typ == Episodic && !meta.OccurredAt.IsZero() {
			p = maps.Clone(p)
			p[PayloadKeyTimestamp] = epochSeconds(meta.OccurredAt)
		}
		b, err := encodePayload(p)
		if err != nil {
			errs.add("payload", err.Error(), nil)
		}
		payload = b
	}

	var importance *float64
	norm := NeutralImportance
	if cmd.Importance != nil {
		if err := ValidateImportance(*cmd.Importance); err != nil {
			errs.add("importance", err.Error(), ErrInvalidImportance)
		}
		v := *cmd.Importance
		importance, norm = &v, importanceNorm
	}

	if len(cmd.Embedding) == 0 {
		errs.add("embedding", "must not be empty", nil)
	}
	for i, f := range cmd.Embedding {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			errs.add("embedding", fmt.Sprintf("value %d is not finite", i), nil)
			break
		}
	}
	if cmd.EmbeddingModel == "" {
		errs.add("embedding_model", "must not be empty", nil)
	}

	if err := errs.err(); err != nil {
		return MemoryStored{}, err
	}
	if !(norm >= 0 && norm <= 1) {
		return MemoryStored{}, fmt.Errorf("decide store %s: importance_norm %v outside [0,1]", cmd.Coordinate.Key(), norm)
	}
	return MemoryStored{
		EventMeta:      meta,
		Coordinate:     cmd.Coordinate,
		Payload:        payload,
		Type:           typ,
		Importance:     importance,
		ImportanceNorm: norm,
		Embedding:      slices.Clone(cmd.Embedding),
		EmbeddingModel: cmd.EmbeddingModel,
	}, nil
}

// epochSeconds is t as seconds since the Unix epoch with sub-second
// precision (microseconds survive for current dates).
func epochSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// encodePayload marshals p with sorted keys and without HTML escaping.
func encodePayload(p map[string]any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("not encodable as JSON: %w", err)
	}
	return json.RawMessage(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// DecideDelete returns the MemoryDeleted event for coord. Deleting is
// idempotent, so it cannot be rejected; meta must have passed ValidateMeta.
func DecideDelete(meta EventMeta, coord Coordinate) MemoryDeleted {
	return MemoryDeleted{EventMeta: meta, Coordinate: coord}
}

// LinkMemories creates or replaces the directed edge From→To.
type LinkMemories struct {
	From, To Coordinate
	// Type is trimmed; empty means DefaultLinkType.
	Type string
	// Weight must be finite and ≥ 0. 0 is a valid weight: the request
	// default (DefaultLinkWeight) is applied by the HTTP layer.
	Weight float64
}

// DecideLink validates cmd and returns the MemoriesLinked event. It does not
// check that From holds a memory: the write side does, returning
// ErrMemoryNotFound. Invalid fields give ValidationErrors ("type",
// "weight", plus meta fields).
func DecideLink(meta EventMeta, cmd LinkMemories) (MemoriesLinked, error) {
	var errs ValidationErrors
	meta.validate(&errs)
	typ, err := NormalizeLinkType(cmd.Type)
	if err != nil {
		errs.add("type", err.Error(), ErrInvalidLinkType)
	}
	if err := ValidateLinkWeight(cmd.Weight); err != nil {
		errs.add("weight", err.Error(), ErrInvalidWeight)
	}
	if err := errs.err(); err != nil {
		return MemoriesLinked{}, err
	}
	return MemoriesLinked{EventMeta: meta, From: cmd.From, To: cmd.To, LinkType: typ, Weight: cmd.Weight}, nil
}

// DecideUnlink returns the MemoryUnlinked event for the edge from→to.
// Unlinking is idempotent, so it cannot be rejected; meta must have passed
// ValidateMeta.
func DecideUnlink(meta EventMeta, from, to Coordinate) MemoryUnlinked {
	return MemoryUnlinked{EventMeta: meta, From: from, To: to}
}

// DecideSetImportance returns the MemoryImportanceSet event giving the
// memory at coord the raw importance raw, normalised to norm by the
// namespace's normaliser. A non-finite raw gives ValidationErrors
// ("importance", plus meta fields); a norm outside [0,1] is a caller bug
// and gives a plain error. Whether a memory exists at coord is the write
// side's check (ErrMemoryNotFound).
func DecideSetImportance(meta EventMeta, coord Coordinate, raw, norm float64) (MemoryImportanceSet, error) {
	var errs ValidationErrors
	meta.validate(&errs)
	if err := ValidateImportance(raw); err != nil {
		errs.add("importance", err.Error(), ErrInvalidImportance)
	}
	if err := errs.err(); err != nil {
		return MemoryImportanceSet{}, err
	}
	if !(norm >= 0 && norm <= 1) {
		return MemoryImportanceSet{}, fmt.Errorf("decide set importance %s: importance_norm %v outside [0,1]", coord.Key(), norm)
	}
	return MemoryImportanceSet{EventMeta: meta, Coordinate: coord, Importance: raw, ImportanceNorm: norm}, nil
}
