package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"time"
)

// Keys of the client-facing record. They are part of the API and of every
// stored record: renaming one breaks clients and read models.
const (
	// Keys added to the payload by Record (system fields).
	RecordKeyMemoryType     = "memory_type"
	RecordKeyCoordinate     = "coordinate"
	RecordKeyImportanceNorm = "importance_norm"
	// PayloadKeyTimestamp holds an episodic memory's epoch seconds; it is
	// part of the stored payload (filled in at store time when absent).
	PayloadKeyTimestamp = "timestamp"
	// PayloadKeyImportance holds the caller's raw importance as given.
	PayloadKeyImportance = "importance"
)

// Memory is the state of one memory as read models hold it. Its identity is
// (Namespace, Coordinate.Key()). It contains no embedding: vectors live in
// the vector index only.
type Memory struct {
	Namespace  string
	Coordinate Coordinate
	Type       MemoryType
	// Payload is the stored payload (including "timestamp" for episodic
	// memories). Numbers decoded from events are json.Number, so they keep
	// their original text.
	Payload map[string]any
	// Importance is the raw importance, nil when never given.
	Importance *float64
	// ImportanceNorm is in [0,1]; NeutralImportance when Importance is nil.
	ImportanceNorm float64
	// StoredAt is the OccurredAt of the MemoryStored event that created (or
	// last replaced) the memory; UpdatedAt that of the last applied event.
	StoredAt  time.Time
	UpdatedAt time.Time
	// Version counts the events applied since the memory was (re)stored,
	// starting at 1. LastEventID is the id of the last applied event.
	Version     int64
	LastEventID string
}

// MemoryFromStored builds the memory a MemoryStored event leaves behind (a
// store replaces any previous memory at the coordinate). The payload must
// be a JSON object; it is decoded with UseNumber so numbers keep their
// text. The error is only for malformed payloads, which DecideStore never
// produces.
func MemoryFromStored(e MemoryStored) (Memory, error) {
	payload, err := decodePayload(e.Payload)
	if err != nil {
		return Memory{}, fmt.Errorf("memory %s/%s: %w", e.Namespace, e.Coordinate.Key(), err)
	}
	var imp *float64
	if e.Importance != nil {
		v := *e.Importance
		imp = &v
	}
	return Memory{
		Namespace:      e.Namespace,
		Coordinate:     e.Coordinate,
		Type:           e.Type,
		Payload:        payload,
		Importance:     imp,
		ImportanceNorm: e.ImportanceNorm,
		StoredAt:       e.OccurredAt,
		UpdatedAt:      e.OccurredAt,
		Version:        1,
		LastEventID:    e.EventID,
	}, nil
}

var errPayloadNotObject = errors.New("payload is not a JSON object")

func decodePayload(raw json.RawMessage) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var payload map[string]any
	if err := dec.Decode(&payload); err != nil {
		return nil, fmt.Errorf("decode payload: %w", err)
	}
	if payload == nil {
		return nil, errPayloadNotObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("decode payload: trailing data after the object")
	}
	return payload, nil
}

// ApplyImportance applies a MemoryImportanceSet for this memory: it sets
// Importance, ImportanceNorm and the payload's "importance" key to the new
// raw value, and advances UpdatedAt, Version and LastEventID. Re-applying
// the event last applied (same event id) changes nothing. The payload map
// is replaced by an updated copy, so copies of m made earlier are not
// affected. It never fails and does no I/O; routing the event to the right
// memory is the caller's job.
func (m *Memory) ApplyImportance(e MemoryImportanceSet) {
	if e.EventID != "" && e.EventID == m.LastEventID {
		return
	}
	raw := e.Importance
	m.Importance = &raw
	m.ImportanceNorm = e.ImportanceNorm
	payload := make(map[string]any, len(m.Payload)+1)
	maps.Copy(payload, m.Payload)
	payload[PayloadKeyImportance] = raw
	m.Payload = payload
	m.UpdatedAt = e.OccurredAt
	m.Version++
	m.LastEventID = e.EventID
}

// Record returns the client-facing record: a shallow copy of the payload
// (so "timestamp" and the caller's raw "importance" appear as stored) plus
// the system fields memory_type (string), coordinate ([]float64, [] for the
// empty coordinate) and importance_norm (float64), which override payload
// keys of the same name. Nested payload values are shared with m; callers
// must not mutate them.
func (m Memory) Record() map[string]any {
	rec := make(map[string]any, len(m.Payload)+3)
	maps.Copy(rec, m.Payload)
	rec[RecordKeyMemoryType] = string(m.Type)
	rec[RecordKeyCoordinate] = m.Coordinate.Values()
	rec[RecordKeyImportanceNorm] = m.ImportanceNorm
	return rec
}
