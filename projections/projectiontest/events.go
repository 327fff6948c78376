package projectiontest

import (
	"encoding/json"
	"hash/fnv"
	"time"

	"github.com/google/uuid"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/projections"
)

// Source is the log name the suite's envelopes carry.
const Source = "memory.events"

// TestModel is the embedding model id of the suite's MemoryStored events.
const TestModel = "suite/4"

// baseTime is the OccurredAt of the first event of a scenario. Times have
// microsecond precision (what Postgres keeps).
var baseTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// events builds the events of one scenario: unique ids and increasing
// occurred_at, so that every field read back can be compared exactly.
type events struct {
	n int
}

func (g *events) meta(ns string) domain.EventMeta {
	g.n++
	return domain.EventMeta{
		EventID:    uuid.NewString(),
		Namespace:  ns,
		OccurredAt: baseTime.Add(time.Duration(g.n) * time.Second),
		Actor:      "suite",
	}
}

// storeOpt changes a MemoryStored built by store.
type storeOpt func(*domain.MemoryStored)

func semantic() storeOpt { return func(e *domain.MemoryStored) { e.Type = domain.Semantic } }

func importance(raw, norm float64) storeOpt {
	return func(e *domain.MemoryStored) {
		e.Importance = &raw
		e.ImportanceNorm = norm
	}
}

// store is an episodic MemoryStored without importance; payload must be a
// JSON object.
func (g *events) store(ns string, c domain.Coordinate, payload string, opts ...storeOpt) domain.MemoryStored {
	e := domain.MemoryStored{
		EventMeta:      g.meta(ns),
		Coordinate:     c,
		Payload:        json.RawMessage(payload),
		Type:           domain.Episodic,
		ImportanceNorm: domain.NeutralImportance,
		Embedding:      embedding(c),
		EmbeddingModel: TestModel,
	}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func (g *events) del(ns string, c domain.Coordinate) domain.MemoryDeleted {
	return domain.MemoryDeleted{EventMeta: g.meta(ns), Coordinate: c}
}

func (g *events) link(ns string, from, to domain.Coordinate, typ string, weight float64) domain.MemoriesLinked {
	return domain.MemoriesLinked{EventMeta: g.meta(ns), From: from, To: to, LinkType: typ, Weight: weight}
}

func (g *events) unlink(ns string, from, to domain.Coordinate) domain.MemoryUnlinked {
	return domain.MemoryUnlinked{EventMeta: g.meta(ns), From: from, To: to}
}

func (g *events) setImportance(ns string, c domain.Coordinate, raw, norm float64) domain.MemoryImportanceSet {
	return domain.MemoryImportanceSet{EventMeta: g.meta(ns), Coordinate: c, Importance: raw, ImportanceNorm: norm}
}

// embedding is a deterministic unit-free vector of the coordinate.
func embedding(c domain.Coordinate) []float32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(c.Key())) // a hash.Hash never returns a write error
	s := h.Sum32()
	return []float32{float32(s%7) + 1, float32(s%11) + 1, float32(s%13) + 1, float32(s%17) + 1}
}

// logWriter assigns log positions: Source, the given partition, and the
// next offset of that partition.
type logWriter struct {
	next map[int32]int64
}

func newLog() *logWriter { return &logWriter{next: map[int32]int64{}} }

// at places events, in order, on partition part.
func (l *logWriter) at(part int32, evs ...domain.Event) []projections.Envelope {
	out := make([]projections.Envelope, len(evs))
	for i, e := range evs {
		out[i] = projections.Envelope{Event: e, Source: Source, Partition: part, Offset: l.next[part]}
		l.next[part]++
	}
	return out
}

// keyed places events on the partition of their partition key among n
// partitions, as the producer does.
func (l *logWriter) keyed(n int, evs ...domain.Event) []projections.Envelope {
	out := make([]projections.Envelope, 0, len(evs))
	for _, e := range evs {
		h := fnv.New32a()
		_, _ = h.Write([]byte(domain.PartitionKey(e)))            // a hash.Hash never returns a write error
		out = append(out, l.at(int32(h.Sum32()%uint32(n)), e)...) // #nosec G115 -- n is a small test partition count, so the remainder fits
	}
	return out
}

func coord(vals ...float64) domain.Coordinate { return domain.MustCoordinate(vals...) }
