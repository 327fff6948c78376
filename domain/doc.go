// Package domain holds the rules of SomaFractalMemory: what a memory is,
// which commands are valid, and which events they produce. It imports only
// the standard library and does no I/O; adapters (HTTP, Kafka/Avro,
// Postgres, Redis, Qdrant) translate to and from these types at the edges.
//
// # Values
//
//   - Coordinate: a memory's address, a tuple of finite float64 of any
//     length (at most MaxCoordinateDims). Key is its canonical identity
//     ("9" and "9.0" are one memory) and is stored in every read model.
//   - MemoryType: Episodic or Semantic.
//   - Memory: the state of one memory in a read model; Record is the
//     client-facing JSON object (payload plus memory_type, coordinate,
//     importance_norm).
//   - Link: a directed, weighted edge between coordinates, one per ordered
//     pair.
//   - ImportanceNormalizer: maps a namespace's raw importances to
//     importance_norm in [0,1] (rule documented on the type). Memories
//     without importance get NeutralImportance and do not feed it.
//
// # Decide, then apply
//
// Commands (StoreMemory, LinkMemories, and plain arguments for delete,
// unlink and set-importance) are turned into events by pure Decide*
// functions, which validate and never read state. Checks that need state,
// such as "linking from a coordinate with no memory", belong to the write
// side and report ErrMemoryNotFound. Applying an event (MemoryFromStored,
// Memory.ApplyImportance, LinkFromEvent) cannot fail for an event a Decide
// function produced and does no I/O.
//
// Events (events.go) are the log's contract: their names are the Event*
// constants, their fields map one to one to the Avro schemas, and
// PartitionKey keeps every memory's events in order.
//
// # Errors
//
// Invalid client input is reported as ValidationErrors (one
// ValidationError per field, errors.As-able; the HTTP layer answers 422)
// or, for coordinates, as *CoordinateError wrapping ErrInvalidCoordinate
// (400). Field causes are classified with sentinels reachable through
// errors.Is: ErrInvalidMemoryType, ErrInvalidImportance, ErrInvalidWeight,
// ErrInvalidLinkType, ErrInvalidNamespace. Any other error from a Decide
// function is a caller bug (500).
package domain
