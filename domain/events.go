package domain

import (
	"encoding/json"
	"time"
)

// Event names as they appear on the wire (Avro record names and the
// "event_type" header). They are part of the log's contract: renaming one
// breaks replay of every event already written.
const (
	EventMemoryStored        = "MemoryStored"
	EventMemoryDeleted       = "MemoryDeleted"
	EventMemoriesLinked      = "MemoriesLinked"
	EventMemoryUnlinked      = "MemoryUnlinked"
	EventMemoryImportanceSet = "MemoryImportanceSet"
)

// EventMeta is carried by every event.
type EventMeta struct {
	// EventID is a UUID string chosen by the writer; projections use it for
	// idempotency and tracing.
	EventID string
	// Namespace is the tenant the event belongs to.
	Namespace string
	// OccurredAt is when the command was decided (UTC).
	OccurredAt time.Time
	// IdempotencyKey is the client's Idempotency-Key header, if any.
	IdempotencyKey string
	// Actor identifies who issued the command (token label or "anonymous").
	Actor string
}

// Event is a fact accepted by the write side. Implementations are the five
// concrete event structs of this file; the set is closed.
type Event interface {
	// EventName returns one of the Event* constants.
	EventName() string
	// Metadata returns the common fields.
	Metadata() EventMeta
	// Subject returns the coordinate the event is about (for links: the
	// source coordinate). Together with the namespace it forms the
	// partition key, so every memory's events stay in order.
	Subject() Coordinate
}

// MemoryStored: a memory was stored (or replaced) at a coordinate.
type MemoryStored struct {
	EventMeta
	Coordinate Coordinate
	// Payload is the client-visible JSON object as stored: the caller's
	// payload, with "timestamp" filled in for episodic memories that did
	// not carry one. System fields (memory_type, coordinate,
	// importance_norm) are not inside it; Record adds them.
	Payload json.RawMessage
	Type    MemoryType
	// Importance is the caller's raw importance, nil when not given.
	Importance *float64
	// ImportanceNorm is the normalised importance in [0,1] computed at
	// write time (NeutralImportance when Importance is nil).
	ImportanceNorm float64
	// Embedding is the vector of the memory; projections never re-embed.
	Embedding []float32
	// EmbeddingModel identifies the embedder and its dimension, e.g.
	// "hash-v1/384". Vectors of different models are never mixed.
	EmbeddingModel string
}

// MemoryDeleted: the memory at a coordinate was deleted, with its vector and
// its outgoing and incoming links.
type MemoryDeleted struct {
	EventMeta
	Coordinate Coordinate
}

// MemoriesLinked: a directed edge From→To was created or replaced.
type MemoriesLinked struct {
	EventMeta
	From     Coordinate
	To       Coordinate
	LinkType string
	Weight   float64
}

// MemoryUnlinked: the directed edge From→To was removed (if it existed).
type MemoryUnlinked struct {
	EventMeta
	From Coordinate
	To   Coordinate
}

// MemoryImportanceSet: the raw importance of an existing memory changed.
type MemoryImportanceSet struct {
	EventMeta
	Coordinate     Coordinate
	Importance     float64
	ImportanceNorm float64
}

func (e MemoryStored) EventName() string        { return EventMemoryStored }
func (e MemoryDeleted) EventName() string       { return EventMemoryDeleted }
func (e MemoriesLinked) EventName() string      { return EventMemoriesLinked }
func (e MemoryUnlinked) EventName() string      { return EventMemoryUnlinked }
func (e MemoryImportanceSet) EventName() string { return EventMemoryImportanceSet }

func (e MemoryStored) Metadata() EventMeta        { return e.EventMeta }
func (e MemoryDeleted) Metadata() EventMeta       { return e.EventMeta }
func (e MemoriesLinked) Metadata() EventMeta      { return e.EventMeta }
func (e MemoryUnlinked) Metadata() EventMeta      { return e.EventMeta }
func (e MemoryImportanceSet) Metadata() EventMeta { return e.EventMeta }

func (e MemoryStored) Subject() Coordinate        { return e.Coordinate }
func (e MemoryDeleted) Subject() Coordinate       { return e.Coordinate }
func (e MemoriesLinked) Subject() Coordinate      { return e.From }
func (e MemoryUnlinked) Subject() Coordinate      { return e.From }
func (e MemoryImportanceSet) Subject() Coordinate { return e.Coordinate }

// PartitionKey is the Kafka message key of an event: namespace and the
// canonical key of its subject coordinate, separated by a NUL byte (which
// cannot appear in a canonical key). Changing it reorders future events of
// a memory relative to past ones.
func PartitionKey(e Event) string {
	return e.Metadata().Namespace + "\x00" + e.Subject().Key()
}
