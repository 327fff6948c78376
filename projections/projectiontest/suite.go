package projectiontest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/projections"
)

// Run runs every scenario against fresh targets from newTarget (one or
// more per scenario). newTarget must return an empty read model and
// register its own cleanup.
func Run(t *testing.T, newTarget func(t *testing.T) Target) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, newTarget func(t *testing.T) Target)
	}{
		{"stores_then_reads_back", storesThenReadsBack},
		{"restore_replaces_record", restoreReplacesRecord},
		{"delete_removes_record_links_and_counts", deleteRemovesRecordLinksAndCounts},
		{"delete_without_memory_removes_incoming_links", deleteWithoutMemoryRemovesIncomingLinks},
		{"link_unlink_relink_keep_insertion_order", linkUnlinkRelinkKeepInsertionOrder},
		{"link_from_missing_memory_is_ignored", linkFromMissingMemoryIsIgnored},
		{"importance_set_updates_existing_memory_only", importanceSetUpdatesExistingMemoryOnly},
		{"same_batch_twice_applies_once", sameBatchTwiceAppliesOnce},
		{"batch_split_does_not_change_state", batchSplitDoesNotChangeState},
		{"positions_per_partition_and_old_events_skipped", positionsPerPartitionAndOldEventsSkipped},
		{"namespaces_are_isolated", namespacesAreIsolated},
		{"counts_by_type", countsByType},
		{"poison_event_fails_batch_without_effect", poisonEventFailsBatchWithoutEffect},
		{"random_batches_match_reference_model", randomBatchesMatchReferenceModel},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, newTarget) })
	}
}

// harness drives one target and the reference model with the same
// batches.
type harness struct {
	t     *testing.T
	ctx   context.Context
	tg    Target
	ev    *events
	log   *logWriter
	model *model
}

func newHarness(t *testing.T, newTarget func(t *testing.T) Target) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return &harness{t: t, ctx: ctx, tg: newTarget(t), ev: &events{}, log: newLog(), model: newModel()}
}

// apply applies batch to the target (one call) and to the model.
func (h *harness) apply(batch []projections.Envelope) {
	h.t.Helper()
	if err := h.tg.Projection.Apply(h.ctx, batch); err != nil {
		h.t.Fatalf("Apply(%d events): %v", len(batch), err)
	}
	h.model.applyAll(batch)
}

func (h *harness) record(ns string, c domain.Coordinate) (domain.Memory, bool) {
	h.t.Helper()
	m, ok, err := h.tg.Probe.Record(h.ctx, ns, c)
	if err != nil {
		h.t.Fatalf("Record(%s, %s): %v", ns, c, err)
	}
	return m, ok
}

func (h *harness) mustRecord(ns string, c domain.Coordinate) domain.Memory {
	h.t.Helper()
	m, ok := h.record(ns, c)
	if !ok {
		h.t.Fatalf("Record(%s, %s): no memory", ns, c)
	}
	return m
}

func (h *harness) noRecord(ns string, c domain.Coordinate) {
	h.t.Helper()
	if m, ok := h.record(ns, c); ok {
		h.t.Fatalf("Record(%s, %s) = %+v, want no memory", ns, c, m)
	}
}

// links returns the outgoing edges (ok false when the target has no
// graph).
func (h *harness) links(ns string, from domain.Coordinate) ([]linkView, bool) {
	h.t.Helper()
	lp, ok := h.tg.Probe.(LinkProbe)
	if !ok {
		return nil, false
	}
	ls, err := lp.Links(h.ctx, ns, from)
	if err != nil {
		h.t.Fatalf("Links(%s, %s): %v", ns, from, err)
	}
	return viewLinks(ls), true
}

// wantLinks checks the outgoing edges of from as (to, type, weight)
// triples in order; a target without graph passes.
func (h *harness) wantLinks(ns string, from domain.Coordinate, want ...linkView) {
	h.t.Helper()
	got, ok := h.links(ns, from)
	if !ok {
		return
	}
	if want == nil {
		want = []linkView{}
	}
	if !reflect.DeepEqual(got, want) {
		h.t.Fatalf("Links(%s, %s):\n got %s\nwant %s", ns, from, show(got), show(want))
	}
}

func (h *harness) wantCounts(ns string, want counts) {
	h.t.Helper()
	cp, ok := h.tg.Probe.(CountProbe)
	if !ok {
		return
	}
	var got counts
	var err error
	if got.Total, got.Episodic, got.Semantic, err = cp.Counts(h.ctx, ns); err != nil {
		h.t.Fatalf("Counts(%s): %v", ns, err)
	}
	if got != want {
		h.t.Fatalf("Counts(%s) = %+v, want %+v", ns, got, want)
	}
}

// matchModel compares everything visible about coords in nss with the
// reference model.
func (h *harness) matchModel(nss []string, coords []domain.Coordinate) {
	h.t.Helper()
	got, err := takeSnapshot(h.ctx, h.tg, nss, coords)
	if err != nil {
		h.t.Fatal(err)
	}
	want := modelSnapshot(h.model, h.tg, nss, coords)
	if !reflect.DeepEqual(got, want) {
		h.t.Fatalf("state differs from the reference model:\n got %s\nwant %s", show(got), show(want))
	}
}

func edge(from, to domain.Coordinate, typ string, w float64, at time.Time) linkView {
	return linkView{From: from.Key(), To: to.Key(), Type: typ, Weight: w, CreatedAt: at.UTC()}
}

func show(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

const (
	nsA = "suite-a"
	nsB = "suite-b"
)

func storesThenReadsBack(t *testing.T, newTarget func(t *testing.T) Target) {
	h := newHarness(t, newTarget)
	a, empty := coord(1, 2, 3), coord()
	stA := h.ev.store(nsA, a, `{"text":"hello","n":1.5,"tags":["x","y"],"nested":{"k":null}}`, importance(7, 0.9))
	stE := h.ev.store(nsA, empty, `{"text":"root"}`, semantic())
	h.apply(h.log.at(0, stA, stE))

	m := h.mustRecord(nsA, a)
	want := memoryView{
		Namespace: nsA, Coordinate: "1,2,3", Type: domain.Episodic,
		Payload:    map[string]any{"text": "hello", "n": 1.5, "tags": []any{"x", "y"}, "nested": map[string]any{"k": nil}},
		Importance: ptr(7.0), ImportanceNorm: 0.9,
		StoredAt: stA.OccurredAt, UpdatedAt: stA.OccurredAt, Version: 1, LastEventID: stA.EventID,
	}
	if h.tg.Versionless {
		want.UpdatedAt, want.Version, want.LastEventID = time.Time{}, 0, ""
	}
	if got := viewMemory(m, h.tg.Versionless); !reflect.DeepEqual(got, want) {
		t.Fatalf("Record:\n got %s\nwant %s", show(got), show(want))
	}
	if !m.Coordinate.Equal(a) {
		t.Fatalf("Coordinate = %v, want %v", m.Coordinate, a)
	}
	e := h.mustRecord(nsA, empty)
	if e.Type != domain.Semantic || e.Importance != nil || e.ImportanceNorm != domain.NeutralImportance || e.Coordinate.Dims() != 0 {
		t.Fatalf("memory at the empty coordinate = %+v", e)
	}
	if vp, ok := h.tg.Probe.(VectorProbe); ok {
		v, ok, err := vp.Vector(h.ctx, nsA, a)
		if err != nil || !ok || !reflect.DeepEqual(v, stA.Embedding) {
			t.Fatalf("Vector = %v, %v, %v; want %v", v, ok, err, stA.Embedding)
		}
	}
	h.noRecord(nsA, coord(1, 2))
	h.wantCounts(nsA, counts{Total: 2, Episodic: 1, Semantic: 1})
	h.matchModel([]string{nsA}, []domain.Coordinate{a, empty})
}

func restoreReplacesRecord(t *testing.T, newTarget func(t *testing.T) Target) {
	h := newHarness(t, newTarget)
	a := coord(9)
	first := h.ev.store(nsA, a, `{"text":"first","only_first":true}`, importance(1, 0.1))
	h.apply(h.log.at(0, first))
	// 9.0 and 9 are one memory.
	second := h.ev.store(nsA, domain.MustCoordinate(9.0), `{"text":"second"}`, semantic())
	h.apply(h.log.at(0, second))

	m := h.mustRecord(nsA, a)
	if got := normalizeJSON(m.Payload); !reflect.DeepEqual(got, map[string]any{"text": "second"}) {
		t.Fatalf("payload = %v, want the second one only", got)
	}
	if m.Type != domain.Semantic || m.Importance != nil || m.ImportanceNorm != domain.NeutralImportance {
		t.Fatalf("record = %+v, want the second store's type and importance", m)
	}
	if !m.StoredAt.Equal(second.OccurredAt) {
		t.Fatalf("StoredAt = %v, want %v", m.StoredAt, second.OccurredAt)
	}
	if !h.tg.Versionless && (m.Version != 2 || m.LastEventID != second.EventID) {
		t.Fatalf("Version, LastEventID = %d, %s; want 2, %s", m.Version, m.LastEventID, second.EventID)
	}
	h.wantCounts(nsA, counts{Total: 1, Semantic: 1})
	h.matchModel([]string{nsA}, []domain.Coordinate{a})
}

func deleteRemovesRecordLinksAndCounts(t *testing.T, newTarget func(t *testing.T) Target) {
	h := newHarness(t, newTarget)
	a, b, c := coord(1), coord(2), coord(3)
	h.apply(h.log.at(0,
		h.ev.store(nsA, a, `{"n":"a"}`),
		h.ev.store(nsA, b, `{"n":"b"}`, semantic()),
		h.ev.store(nsA, c, `{"n":"c"}`),
	))
	ab := h.ev.link(nsA, a, b, "related", 1)
	ac := h.ev.link(nsA, a, c, "related", 1)
	ca := h.ev.link(nsA, c, a, "cause", 0.5)
	cb := h.ev.link(nsA, c, b, "cause", 2)
	h.apply(h.log.at(0, ab, ac, ca, cb))
	h.wantLinks(nsA, c, edge(c, a, "cause", 0.5, ca.OccurredAt), edge(c, b, "cause", 2, cb.OccurredAt))

	h.apply(h.log.at(0, h.ev.del(nsA, a)))
	h.noRecord(nsA, a)
	h.mustRecord(nsA, b)
	h.wantLinks(nsA, a)                                        // outgoing gone
	h.wantLinks(nsA, c, edge(c, b, "cause", 2, cb.OccurredAt)) // incoming gone, others kept
	h.wantCounts(nsA, counts{Total: 2, Episodic: 1, Semantic: 1})
	if vp, ok := h.tg.Probe.(VectorProbe); ok {
		if v, ok, err := vp.Vector(h.ctx, nsA, a); err != nil || ok {
			t.Fatalf("Vector of a deleted memory = %v, %v, %v; want none", v, ok, err)
		}
	}

	// Deleting again changes nothing.
	h.apply(h.log.at(0, h.ev.del(nsA, a)))
	h.wantCounts(nsA, counts{Total: 2, Episodic: 1, Semantic: 1})
	h.matchModel([]string{nsA}, []domain.Coordinate{a, b, c})
}

func deleteWithoutMemoryRemovesIncomingLinks(t *testing.T, newTarget func(t *testing.T) Target) {
	h := newHarness(t, newTarget)
	a, ghost, other := coord(1), coord(404), coord(5)
	h.apply(h.log.at(0,
		h.ev.store(nsA, a, `{}`),
		h.ev.link(nsA, a, ghost, "related", 1), // the target need not exist
		h.ev.link(nsA, a, other, "related", 1),
	))
	h.apply(h.log.at(0, h.ev.del(nsA, ghost)))
	got, ok := h.links(nsA, a)
	if ok && (len(got) != 1 || got[0].To != other.Key()) {
		t.Fatalf("Links(a) = %s, want only a→5", show(got))
	}
	h.wantCounts(nsA, counts{Total: 1, Episodic: 1})
	h.matchModel([]string{nsA}, []domain.Coordinate{a, ghost, other})
}

func linkUnlinkRelinkKeepInsertionOrder(t *testing.T, newTarget func(t *testing.T) Target) {
	h := newHarness(t, newTarget)
	a, b, c, d := coord(0, 1), coord(0, 2), coord(0, 3), coord(0, 4)
	h.apply(h.log.at(0, h.ev.store(nsA, a, `{}`)))
	ab := h.ev.link(nsA, a, b, "related", 1)
	ac := h.ev.link(nsA, a, c, "related", 1)
	ad := h.ev.link(nsA, a, d, "next", 0)
	aa := h.ev.link(nsA, a, a, "self", 3) // self-loops are allowed
	h.apply(h.log.at(0, ab, ac, ad, aa))
	h.wantLinks(nsA, a,
		edge(a, b, "related", 1, ab.OccurredAt), edge(a, c, "related", 1, ac.OccurredAt),
		edge(a, d, "next", 0, ad.OccurredAt), edge(a, a, "self", 3, aa.OccurredAt))

	// Re-linking replaces type, weight and time, and keeps the place.
	ab2 := h.ev.link(nsA, a, b, "cause", 2.5)
	h.apply(h.log.at(0, ab2))
	h.wantLinks(nsA, a,
		edge(a, b, "cause", 2.5, ab2.OccurredAt), edge(a, c, "related", 1, ac.OccurredAt),
		edge(a, d, "next", 0, ad.OccurredAt), edge(a, a, "self", 3, aa.OccurredAt))

	// Unlinking removes the edge; linking again appends it.
	h.apply(h.log.at(0, h.ev.unlink(nsA, a, c), h.ev.unlink(nsA, a, coord(77))))
	ac2 := h.ev.link(nsA, a, c, "again", 1)
	h.apply(h.log.at(0, ac2))
	h.wantLinks(nsA, a,
		edge(a, b, "cause", 2.5, ab2.OccurredAt), edge(a, d, "next", 0, ad.OccurredAt),
		edge(a, a, "self", 3, aa.OccurredAt), edge(a, c, "again", 1, ac2.OccurredAt))

	// The same within one batch: unlink then link moves the edge last.
	ad2 := h.ev.link(nsA, a, d, "next", 4)
	h.apply(h.log.at(0, h.ev.unlink(nsA, a, d), ad2))
	h.wantLinks(nsA, a,
		edge(a, b, "cause", 2.5, ab2.OccurredAt), edge(a, a, "self", 3, aa.OccurredAt),
		edge(a, c, "again", 1, ac2.OccurredAt), edge(a, d, "next", 4, ad2.OccurredAt))

	// Edges new in one batch: their order is the order they were last
	// created in.
	e, f := coord(0, 5), coord(0, 6)
	ae := h.ev.link(nsA, a, e, "x", 1)
	af := h.ev.link(nsA, a, f, "x", 1)
	ae2 := h.ev.link(nsA, a, e, "y", 1)
	h.apply(h.log.at(0, ae, af, h.ev.unlink(nsA, a, e), ae2, h.ev.unlink(nsA, a, b), h.ev.unlink(nsA, a, a)))
	h.wantLinks(nsA, a,
		edge(a, c, "again", 1, ac2.OccurredAt), edge(a, d, "next", 4, ad2.OccurredAt),
		edge(a, f, "x", 1, af.OccurredAt), edge(a, e, "y", 1, ae2.OccurredAt))
	h.matchModel([]string{nsA}, []domain.Coordinate{a, b, c, d, e, f})
}

func linkFromMissingMemoryIsIgnored(t *testing.T, newTarget func(t *testing.T) Target) {
	h := newHarness(t, newTarget)
	x, y, z := coord(10), coord(20), coord(30)
	h.apply(h.log.at(0, h.ev.link(nsA, x, y, "related", 1)))
	h.wantLinks(nsA, x)
	h.noRecord(nsA, x)

	// Within one batch: the memory exists, is deleted, then a link
	// arrives (a race the write API lost): ignored; stored again: applied.
	h.apply(h.log.at(0, h.ev.store(nsA, z, `{}`), h.ev.del(nsA, z), h.ev.link(nsA, z, y, "late", 1)))
	h.wantLinks(nsA, z)
	st := h.ev.store(nsA, z, `{}`)
	zy := h.ev.link(nsA, z, y, "ok", 1)
	h.apply(h.log.at(0, st, zy))
	h.wantLinks(nsA, z, edge(z, y, "ok", 1, zy.OccurredAt))
	h.wantCounts(nsA, counts{Total: 1, Episodic: 1})
	h.matchModel([]string{nsA}, []domain.Coordinate{x, y, z})
}

func importanceSetUpdatesExistingMemoryOnly(t *testing.T, newTarget func(t *testing.T) Target) {
	h := newHarness(t, newTarget)
	a, b, missing := coord(1), coord(2), coord(3)
	h.apply(h.log.at(0,
		h.ev.store(nsA, a, `{"text":"a","importance":1}`, importance(1, 0.2)),
		h.ev.store(nsA, b, `{"text":"b"}`),
	))
	set := h.ev.setImportance(nsA, a, 5, 0.8)
	// b: stored and re-weighted twice in the same batch as the store.
	stB := h.ev.store(nsA, b, `{"text":"b2"}`)
	setB1 := h.ev.setImportance(nsA, b, -2, 0)
	setB2 := h.ev.setImportance(nsA, b, 3, 0.6)
	h.apply(h.log.at(0, set, h.ev.setImportance(nsA, missing, 9, 1), stB, setB1, setB2))

	m := h.mustRecord(nsA, a)
	if m.Importance == nil || *m.Importance != 5 || m.ImportanceNorm != 0.8 {
		t.Fatalf("importance = %v/%v, want 5/0.8", m.Importance, m.ImportanceNorm)
	}
	if got := normalizeJSON(m.Payload); !reflect.DeepEqual(got, map[string]any{"text": "a", "importance": 5.0}) {
		t.Fatalf("payload = %v, want importance 5 in it", got)
	}
	if !h.tg.Versionless && (m.Version != 2 || m.LastEventID != set.EventID || !m.UpdatedAt.Equal(set.OccurredAt)) {
		t.Fatalf("Version, LastEventID, UpdatedAt = %d, %s, %v; want 2, %s, %v", m.Version, m.LastEventID, m.UpdatedAt, set.EventID, set.OccurredAt)
	}
	mb := h.mustRecord(nsA, b)
	if mb.Importance == nil || *mb.Importance != 3 || mb.ImportanceNorm != 0.6 {
		t.Fatalf("b importance = %v/%v, want 3/0.6", mb.Importance, mb.ImportanceNorm)
	}
	h.noRecord(nsA, missing)
	h.wantCounts(nsA, counts{Total: 2, Episodic: 2})
	h.matchModel([]string{nsA}, []domain.Coordinate{a, b, missing})
}

// mixedBatch is a batch exercising every event type, with cross-links and
// a namespace of its own.
func mixedBatch(h *harness) ([]projections.Envelope, []domain.Coordinate) {
	a, b, c, d := coord(1, 1), coord(1, 2), coord(2, 1), coord(2, 2)
	evs := []domain.Event{
		h.ev.store(nsA, a, `{"k":"a"}`, importance(3, 0.3)),
		h.ev.store(nsA, b, `{"k":"b"}`, semantic()),
		h.ev.store(nsA, c, `{"k":"c"}`),
		h.ev.link(nsA, a, b, "related", 1),
		h.ev.link(nsA, a, c, "related", 2),
		h.ev.link(nsA, c, a, "back", 1),
		h.ev.store(nsA, a, `{"k":"a2"}`, importance(4, 0.4)),
		h.ev.setImportance(nsA, c, 8, 0.9),
		h.ev.unlink(nsA, a, b),
		h.ev.link(nsA, a, b, "again", 1),
		h.ev.del(nsA, c),
		h.ev.store(nsA, d, `{"k":"d"}`, semantic()),
		h.ev.link(nsA, d, a, "related", 1),
		h.ev.link(nsA, c, d, "dangling", 1),
		h.ev.store(nsB, a, `{"k":"other tenant"}`),
		h.ev.link(nsB, a, a, "self", 1),
	}
	return h.log.keyed(3, evs...), []domain.Coordinate{a, b, c, d}
}

func sameBatchTwiceAppliesOnce(t *testing.T, newTarget func(t *testing.T) Target) {
	h := newHarness(t, newTarget)
	batch, coords := mixedBatch(h)
	h.apply(batch)
	before, err := takeSnapshot(h.ctx, h.tg, []string{nsA, nsB}, coords)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.tg.Projection.Apply(h.ctx, batch); err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	after, err := takeSnapshot(h.ctx, h.tg, []string{nsA, nsB}, coords)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("applying the batch again changed the state:\nbefore %s\nafter  %s", show(before), show(after))
	}
	// A redelivery overlapping new events applies only the new ones.
	a := coord(1, 1)
	set := h.ev.setImportance(nsA, a, 10, 1)
	next := h.log.keyed(3, set)
	h.apply(append(append([]projections.Envelope{}, batch...), next...))
	m := h.mustRecord(nsA, a)
	if !h.tg.Versionless && m.Version != 3 {
		t.Fatalf("Version = %d after store, store, importance (each once), want 3", m.Version)
	}
	h.matchModel([]string{nsA, nsB}, coords)
}

func batchSplitDoesNotChangeState(t *testing.T, newTarget func(t *testing.T) Target) {
	one := newHarness(t, newTarget)
	batch, coords := mixedBatch(one)
	one.apply(batch)
	want, err := takeSnapshot(one.ctx, one.tg, []string{nsA, nsB}, coords)
	if err != nil {
		t.Fatal(err)
	}
	one.matchModel([]string{nsA, nsB}, coords)

	for _, size := range []int{1, 2, 5} {
		t.Run(fmt.Sprintf("calls_of_%d", size), func(t *testing.T) {
			h := newHarness(t, newTarget)
			for i := 0; i < len(batch); i += size {
				h.apply(batch[i:min(i+size, len(batch))])
			}
			got, err := takeSnapshot(h.ctx, h.tg, []string{nsA, nsB}, coords)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("state after calls of %d differs from one call:\n got %s\nwant %s", size, show(got), show(want))
			}
		})
	}
}

func positionsPerPartitionAndOldEventsSkipped(t *testing.T, newTarget func(t *testing.T) Target) {
	h := newHarness(t, newTarget)
	a, b, c := coord(1), coord(2), coord(3)
	if pos, err := h.tg.Projection.Positions(h.ctx, Source); err != nil || len(pos) != 0 {
		t.Fatalf("Positions of an empty read model = %v, %v; want none", pos, err)
	}
	p0 := h.log.at(0, h.ev.store(nsA, a, `{"v":1}`), h.ev.store(nsA, b, `{"v":1}`), h.ev.store(nsA, a, `{"v":2}`))
	p1 := h.log.at(1, h.ev.store(nsA, c, `{"v":1}`))
	h.apply(append(p0, p1...))
	wantPositions(t, h, map[int32]int64{0: 2, 1: 0})
	if pos, err := h.tg.Projection.Positions(h.ctx, "another.topic"); err != nil || len(pos) != 0 {
		t.Fatalf("Positions(another source) = %v, %v; want none", pos, err)
	}

	// A stale event at an applied offset (even with other content) is
	// skipped; the new ones after it are applied.
	stale := projections.Envelope{Event: h.ev.store(nsA, b, `{"v":"stale"}`), Source: Source, Partition: 0, Offset: 1}
	fresh := h.log.at(0, h.ev.store(nsA, b, `{"v":3}`))
	if err := h.tg.Projection.Apply(h.ctx, append([]projections.Envelope{stale}, fresh...)); err != nil {
		t.Fatal(err)
	}
	h.model.applyAll(append([]projections.Envelope{stale}, fresh...))
	if got := normalizeJSON(h.mustRecord(nsA, b).Payload); !reflect.DeepEqual(got, map[string]any{"v": 3.0}) {
		t.Fatalf("payload of b = %v, want the fresh one", got)
	}
	wantPositions(t, h, map[int32]int64{0: 3, 1: 0})

	// Another source keeps its own positions.
	other := projections.Envelope{Event: h.ev.store(nsA, coord(4), `{}`), Source: "another.topic", Partition: 0, Offset: 0}
	h.apply([]projections.Envelope{other})
	if pos, err := h.tg.Projection.Positions(h.ctx, "another.topic"); err != nil || !reflect.DeepEqual(pos, map[int32]int64{0: 0}) {
		t.Fatalf("Positions(another source) = %v, %v; want map[0:0]", pos, err)
	}
	wantPositions(t, h, map[int32]int64{0: 3, 1: 0})
	h.matchModel([]string{nsA}, []domain.Coordinate{a, b, c, coord(4)})
}

func wantPositions(t *testing.T, h *harness, want map[int32]int64) {
	t.Helper()
	got, err := h.tg.Projection.Positions(h.ctx, Source)
	if err != nil {
		t.Fatalf("Positions: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Positions = %v, want %v", got, want)
	}
}

func namespacesAreIsolated(t *testing.T, newTarget func(t *testing.T) Target) {
	h := newHarness(t, newTarget)
	a, b := coord(1), coord(2)
	h.apply(h.log.keyed(2,
		h.ev.store(nsA, a, `{"ns":"a"}`),
		h.ev.store(nsB, a, `{"ns":"b"}`, semantic()),
		h.ev.store(nsA, b, `{"ns":"a"}`),
		h.ev.link(nsA, a, b, "related", 1),
		h.ev.link(nsB, a, b, "related", 1),
		h.ev.del(nsB, b), // only nsB's edge to b goes
		h.ev.setImportance(nsB, a, 2, 0.7),
	))
	if got := normalizeJSON(h.mustRecord(nsA, a).Payload); !reflect.DeepEqual(got, map[string]any{"ns": "a"}) {
		t.Fatalf("payload in %s = %v", nsA, got)
	}
	if m := h.mustRecord(nsA, a); m.Importance != nil {
		t.Fatalf("importance in %s = %v, want none (set in %s only)", nsA, *m.Importance, nsB)
	}
	if got, ok := h.links(nsA, a); ok && len(got) != 1 {
		t.Fatalf("Links in %s = %s, want the a→b edge", nsA, show(got))
	}
	h.wantLinks(nsB, a)
	h.noRecord(nsB, b)
	h.wantCounts(nsA, counts{Total: 2, Episodic: 2})
	h.wantCounts(nsB, counts{Total: 1, Semantic: 1})
	h.wantCounts("suite-none", counts{})
	h.matchModel([]string{nsA, nsB}, []domain.Coordinate{a, b})
}

func countsByType(t *testing.T, newTarget func(t *testing.T) Target) {
	h := newHarness(t, newTarget)
	var evs []domain.Event
	for i := range 3 {
		evs = append(evs, h.ev.store(nsA, coord(float64(i)), `{}`))
	}
	for i := 3; i < 5; i++ {
		evs = append(evs, h.ev.store(nsA, coord(float64(i)), `{}`, semantic()))
	}
	h.apply(h.log.keyed(4, evs...))
	h.wantCounts(nsA, counts{Total: 5, Episodic: 3, Semantic: 2})
	h.apply(h.log.keyed(4,
		h.ev.store(nsA, coord(0), `{}`, semantic()), // episodic → semantic
		h.ev.del(nsA, coord(3)),                     // a semantic one
		h.ev.del(nsA, coord(99)),                    // nothing there
		h.ev.store(nsA, coord(1), `{"again":true}`), // same type again
	))
	h.wantCounts(nsA, counts{Total: 4, Episodic: 2, Semantic: 2})
	coords := []domain.Coordinate{coord(0), coord(1), coord(2), coord(3), coord(4), coord(99)}
	h.matchModel([]string{nsA}, coords)
}

func poisonEventFailsBatchWithoutEffect(t *testing.T, newTarget func(t *testing.T) Target) {
	for _, tc := range []struct {
		name   string
		poison func(h *harness) domain.Event
	}{
		{"nan_link_weight", func(h *harness) domain.Event { return h.ev.link(nsA, coord(1), coord(2), "related", math.NaN()) }},
		{"negative_link_weight", func(h *harness) domain.Event { return h.ev.link(nsA, coord(1), coord(2), "related", -1) }},
		{"infinite_importance", func(h *harness) domain.Event { return h.ev.setImportance(nsA, coord(1), math.Inf(1), 0.5) }},
		{"importance_norm_out_of_range", func(h *harness) domain.Event {
			return h.ev.store(nsA, coord(3), `{}`, importance(1, 1.5))
		}},
		{"nan_embedding", func(h *harness) domain.Event {
			e := h.ev.store(nsA, coord(3), `{}`)
			e.Embedding = []float32{1, float32(math.NaN()), 0, 0}
			return e
		}},
		{"payload_not_an_object", func(h *harness) domain.Event { return h.ev.store(nsA, coord(3), `[1,2]`) }},
		{"event_id_not_a_uuid", func(h *harness) domain.Event {
			e := h.ev.del(nsA, coord(1))
			e.EventID = "not-a-uuid"
			return e
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, newTarget)
			h.apply(h.log.at(0, h.ev.store(nsA, coord(1), `{"v":1}`)))
			batch := h.log.at(0, h.ev.store(nsA, coord(1), `{"v":2}`), tc.poison(h), h.ev.store(nsA, coord(2), `{}`))
			err := h.tg.Projection.Apply(h.ctx, batch)
			if !errors.Is(err, projections.ErrPoison) {
				t.Fatalf("Apply = %v, want an error wrapping ErrPoison", err)
			}
			// Nothing of the batch was applied, not even its valid events.
			if got := normalizeJSON(h.mustRecord(nsA, coord(1)).Payload); !reflect.DeepEqual(got, map[string]any{"v": 1.0}) {
				t.Fatalf("payload = %v, want the one before the failed batch", got)
			}
			h.noRecord(nsA, coord(2))
			wantPositions(t, h, map[int32]int64{0: 0})
			// The runner dead-letters the poison event and applies the rest.
			rest := []projections.Envelope{batch[0], batch[2]}
			h.apply(rest)
			wantPositions(t, h, map[int32]int64{0: 3})
			h.matchModel([]string{nsA}, []domain.Coordinate{coord(1), coord(2), coord(3)})
		})
	}
}

// randomBatchesMatchReferenceModel applies a long random sequence of
// events over a few coordinates (so that stores, deletes, links and
// importance changes of the same memories meet inside batches) in batches
// of random sizes, and compares with the reference model after each.
func randomBatchesMatchReferenceModel(t *testing.T, newTarget func(t *testing.T) Target) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed_%d", seed), func(t *testing.T) {
			h := newHarness(t, newTarget)
			rng := rand.New(rand.NewPCG(seed, 7)) // #nosec G404 -- a reproducible test needs a seeded PRNG
			nss := []string{nsA, nsB}
			coords := []domain.Coordinate{coord(0), coord(1), coord(2), coord(3), coord(4), coord(0.5, -1)}
			types := []string{"related", "cause", "next"}
			pick := func() domain.Coordinate { return coords[rng.IntN(len(coords))] }
			var evs []domain.Event
			for range 300 {
				ns := nss[rng.IntN(len(nss))]
				switch r := rng.IntN(100); {
				case r < 25:
					opts := []storeOpt{}
					if rng.IntN(2) == 0 {
						opts = append(opts, semantic())
					}
					if rng.IntN(2) == 0 {
						opts = append(opts, importance(float64(rng.IntN(10)), float64(rng.IntN(11))/10))
					}
					evs = append(evs, h.ev.store(ns, pick(), fmt.Sprintf(`{"r":%d}`, rng.IntN(1000)), opts...))
				case r < 37:
					evs = append(evs, h.ev.del(ns, pick()))
				case r < 72:
					evs = append(evs, h.ev.link(ns, pick(), pick(), types[rng.IntN(len(types))], float64(rng.IntN(5))))
				case r < 87:
					evs = append(evs, h.ev.unlink(ns, pick(), pick()))
				default:
					evs = append(evs, h.ev.setImportance(ns, pick(), float64(rng.IntN(20)-5), float64(rng.IntN(11))/10))
				}
			}
			batch := h.log.keyed(3, evs...)
			for i := 0; i < len(batch); {
				n := 1 + rng.IntN(100)
				h.apply(batch[i:min(i+n, len(batch))])
				i += n
				h.matchModel(nss, coords)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
