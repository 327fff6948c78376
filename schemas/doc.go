// Package schemas holds the Avro schemas of the events on the log, the
// codec that writes and reads them in Confluent framing, the schema
// registry client, and the compatibility checks.
//
// # Files
//
// avro/<EventName>/v<N>.avsc, one record per event type, embedded in the
// binary. A released version is never edited: an evolution is a new file
// v<N+1>.avsc, kept forever, because the log is replayed from offset 0.
// Under BACKWARD_TRANSITIVE the new version must read every older one: add
// fields only with a default (optional fields as ["null", T] with default
// null), never remove or retype a field without a default, never remove
// an enum symbol. Then update the wire struct in records.go and run
// `soma schemas check` (Catalog.Check), which is also a unit test.
//
// # Wiring
//
//	cat, err := schemas.BuiltinCatalog()
//	reg, err := schemas.NewRegistryClient(cfg, cat, nil) // cfg from cmd/
//	err = reg.Prepare(ctx)                               // Register or Resolve
//	codec, err := schemas.NewCodec(cat, reg)
//	msg, err := codec.Encode(event)                      // producer
//	event, err := codec.Decode(msg)                      // projector
//	if schemas.Permanent(err) { /* dead-letter topic */ }
//
// Subjects follow the topic-record-name strategy:
// "memory.events-io.somafractalmemory.events.MemoryStored".
//
// # memory_type
//
// memory_type is an Avro enum MemoryType {episodic, semantic}, not a
// string: the domain's set is closed, the registry and every decoder then
// reject anything else, and it costs one byte. Adding a symbol later is a
// backward-compatible change (new readers read old writers), which is the
// policy; as always under BACKWARD, consumers are deployed before the
// producers that write the new symbol. No enum default is declared: an
// old reader meeting an unknown type fails loudly (dead-letter) instead of
// silently projecting it as another type.
package schemas
