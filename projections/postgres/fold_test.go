package postgres

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/somafractalmemory/soma/domain"
)

var foldT0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func foldItems(evs ...domain.Event) []item {
	out := make([]item, len(evs))
	for i, e := range evs {
		out[i] = item{idx: i, ev: e, id: uuid.MustParse(e.Metadata().EventID), ns: e.Metadata().Namespace, key: e.Subject().Key(), off: int64(i), order: i}
	}
	return out
}

func fmeta(n int) domain.EventMeta {
	return domain.EventMeta{EventID: uuid.NewString(), Namespace: "ns", OccurredAt: foldT0.Add(time.Duration(n) * time.Second)}
}

func TestFold(t *testing.T) {
	a, b := domain.MustCoordinate(1), domain.MustCoordinate(2)
	store := func(n int, c domain.Coordinate, typ domain.MemoryType) domain.MemoryStored {
		return domain.MemoryStored{EventMeta: fmeta(n), Coordinate: c, Payload: json.RawMessage(`{"k":1}`), Type: typ, ImportanceNorm: 0.5}
	}
	link := func(n int, from, to domain.Coordinate) domain.MemoriesLinked {
		return domain.MemoriesLinked{EventMeta: fmeta(n), From: from, To: to, LinkType: "related", Weight: 1}
	}
	keyA, keyB := recKey{"ns", "1"}, recKey{"ns", "2"}

	t.Run("store_then_importance_is_one_upsert", func(t *testing.T) {
		imp := domain.MemoryImportanceSet{EventMeta: fmeta(2), Coordinate: a, Importance: 4, ImportanceNorm: 0.9}
		p := fold(foldItems(store(1, a, domain.Episodic), imp), nil, nil)
		if len(p.recordUpserts) != 1 || len(p.importanceUpdates) != 0 {
			t.Fatalf("plan = %+v, want one upsert", p)
		}
		r := p.recordUpserts[0]
		if r.version != 2 || *r.importance != 4 || r.importanceNorm != 0.9 || string(r.payload) != `{"importance":4,"k":1}` {
			t.Fatalf("row = %+v (payload %s)", r, r.payload)
		}
		if !reflect.DeepEqual(p.counts, map[string]countDelta{"ns": {total: 1, episodic: 1}}) {
			t.Fatalf("counts = %+v", p.counts)
		}
	})
	t.Run("importance_of_a_stored_row_is_an_update", func(t *testing.T) {
		imp := domain.MemoryImportanceSet{EventMeta: fmeta(2), Coordinate: a, Importance: 4, ImportanceNorm: 0.9}
		p := fold(foldItems(imp), map[recKey]storedRecord{keyA: {memType: domain.Episodic, version: 3}}, nil)
		if len(p.recordUpserts) != 0 || len(p.importanceUpdates) != 1 || p.importanceUpdates[0].version != 4 {
			t.Fatalf("plan = %+v, want one importance update to version 4", p)
		}
		if p.counts != nil {
			t.Fatalf("counts = %+v, want none", p.counts)
		}
	})
	t.Run("replacing_with_another_type_moves_the_count", func(t *testing.T) {
		p := fold(foldItems(store(1, a, domain.Semantic)), map[recKey]storedRecord{keyA: {memType: domain.Episodic, version: 1}}, nil)
		if !reflect.DeepEqual(p.counts, map[string]countDelta{"ns": {episodic: -1, semantic: 1}}) {
			t.Fatalf("counts = %+v", p.counts)
		}
		if p.recordUpserts[0].version != 2 {
			t.Fatalf("version = %d, want 2", p.recordUpserts[0].version)
		}
	})
	t.Run("delete_then_store_restarts_versions_without_a_delete", func(t *testing.T) {
		del := domain.MemoryDeleted{EventMeta: fmeta(1), Coordinate: a}
		p := fold(foldItems(del, store(2, a, domain.Episodic)), map[recKey]storedRecord{keyA: {memType: domain.Episodic, version: 5}}, nil)
		if len(p.recordDeletes) != 0 || len(p.recordUpserts) != 1 || p.recordUpserts[0].version != 1 {
			t.Fatalf("plan = %+v, want one upsert at version 1", p)
		}
		if !reflect.DeepEqual(p.wipes, []wipe{{keyA, foldT0.Add(time.Second)}}) || p.counts != nil {
			t.Fatalf("wipes, counts = %v, %v", p.wipes, p.counts)
		}
	})
	t.Run("link_after_target_deleted_recreates_the_edge", func(t *testing.T) {
		del := domain.MemoryDeleted{EventMeta: fmeta(2), Coordinate: b}
		p := fold(foldItems(link(1, a, b), del, link(3, a, b)), map[recKey]storedRecord{keyA: {memType: domain.Episodic, version: 1}}, nil)
		if !reflect.DeepEqual(p.wipes, []wipe{{keyB, foldT0.Add(2 * time.Second)}}) {
			t.Fatalf("wipes = %v", p.wipes)
		}
		if !reflect.DeepEqual(p.edgeDeletes, []edgeKey{{"ns", "1", "2"}}) || len(p.edgeUpserts) != 1 {
			t.Fatalf("edge deletes, upserts = %v, %v; want the edge deleted then re-inserted", p.edgeDeletes, p.edgeUpserts)
		}
		if !p.edgeUpserts[0].createdAt.Equal(foldT0.Add(3 * time.Second)) {
			t.Fatalf("edge = %+v, want the last link's", p.edgeUpserts[0])
		}
	})
	t.Run("link_older_than_the_targets_delete_is_ignored_whatever_the_partition_order", func(t *testing.T) {
		// The delete of b (time 5) was applied before the link a→b
		// (time 3) from another partition: the link is older than the
		// delete, so it must not survive — as when the link came first.
		del := domain.MemoryDeleted{EventMeta: fmeta(5), Coordinate: b}
		stored := map[recKey]storedRecord{keyA: {memType: domain.Episodic, version: 1}}
		deleteFirst := fold(foldItems(del, link(3, a, b)), stored, nil)
		linkFirst := fold(foldItems(link(3, a, b), del), stored, nil)
		if len(deleteFirst.edgeUpserts) != 0 || len(linkFirst.edgeUpserts) != 0 {
			t.Fatalf("edge upserts %v / %v, want none in both orders", deleteFirst.edgeUpserts, linkFirst.edgeUpserts)
		}
		// A stored tombstone newer than the link ignores it too.
		p := fold(foldItems(link(3, a, b)), stored, map[recKey]time.Time{keyB: foldT0.Add(4 * time.Second)})
		if len(p.edgeUpserts) != 0 {
			t.Fatalf("edge upserts %v, want none", p.edgeUpserts)
		}
		// A link newer than the delete survives in both orders.
		newer := link(7, a, b)
		if p1, p2 := fold(foldItems(del, newer), stored, nil), fold(foldItems(newer, del), stored, nil); len(p1.edgeUpserts) != 1 || len(p2.edgeUpserts) != 1 {
			t.Fatalf("newer link: %v / %v", p1.edgeUpserts, p2.edgeUpserts)
		}
	})
	t.Run("link_from_missing_memory_changes_nothing", func(t *testing.T) {
		p := fold(foldItems(link(1, a, b)), nil, nil)
		if !reflect.DeepEqual(p, plan{}) {
			t.Fatalf("plan = %+v, want empty", p)
		}
	})
	t.Run("edges_new_in_the_batch_keep_creation_order", func(t *testing.T) {
		c := domain.MustCoordinate(3)
		unl := domain.MemoryUnlinked{EventMeta: fmeta(3), From: a, To: b}
		p := fold(foldItems(link(1, a, b), link(2, a, c), unl, link(4, a, b)), map[recKey]storedRecord{keyA: {memType: domain.Episodic, version: 1}}, nil)
		var got []string
		for _, e := range p.edgeUpserts {
			got = append(got, e.to)
		}
		if !reflect.DeepEqual(got, []string{"3", "2"}) {
			t.Fatalf("edge upserts to %v, want [3 2]", got)
		}
	})
}

func TestNormalize(t *testing.T) {
	nan := math.NaN()
	ok := domain.MemoryStored{EventMeta: fmeta(1), Coordinate: domain.MustCoordinate(1), Payload: json.RawMessage(`{"a":1}`), Type: domain.Episodic, ImportanceNorm: 0.5}
	with := func(f func(e *domain.MemoryStored)) domain.MemoryStored {
		e := ok
		f(&e)
		return e
	}
	for _, tc := range []struct {
		name  string
		event domain.Event
		valid bool
	}{
		{"accepts_value_event", ok, true},
		{"accepts_pointer_event", &ok, true},
		{"rejects_nil_event", nil, false},
		{"rejects_nil_pointer", (*domain.MemoryStored)(nil), false},
		{"rejects_unknown_memory_type", with(func(e *domain.MemoryStored) { e.Type = "procedural" }), false},
		{"rejects_nan_importance", with(func(e *domain.MemoryStored) { e.Importance = &nan }), false},
		{"rejects_nan_importance_norm", with(func(e *domain.MemoryStored) { e.ImportanceNorm = nan }), false},
		{"rejects_payload_array", with(func(e *domain.MemoryStored) { e.Payload = json.RawMessage(`[]`) }), false},
		{"rejects_empty_payload", with(func(e *domain.MemoryStored) { e.Payload = nil }), false},
		{"rejects_nul_in_payload_string", with(func(e *domain.MemoryStored) { e.Payload = json.RawMessage(`{"a":"x\u0000"}`) }), false},
		{"rejects_nul_in_payload_key", with(func(e *domain.MemoryStored) { e.Payload = json.RawMessage(`{"\u0000":1}`) }), false},
		{"accepts_escaped_backslash_before_u0000", with(func(e *domain.MemoryStored) { e.Payload = json.RawMessage(`{"a":"\\u0000"}`) }), true},
		{"rejects_invalid_namespace", with(func(e *domain.MemoryStored) { e.Namespace = "a b" }), false},
		{"rejects_missing_occurred_at", with(func(e *domain.MemoryStored) { e.OccurredAt = time.Time{} }), false},
		{"rejects_event_id_not_uuid", with(func(e *domain.MemoryStored) { e.EventID = "abc" }), false},
		{"rejects_infinite_weight", domain.MemoriesLinked{EventMeta: fmeta(1), LinkType: "x", Weight: math.Inf(1)}, false},
		{"accepts_zero_weight", domain.MemoriesLinked{EventMeta: fmeta(1), LinkType: "x"}, true},
		{"rejects_nul_in_link_type", domain.MemoriesLinked{EventMeta: fmeta(1), LinkType: "a\x00", Weight: 1}, false},
		{"rejects_importance_norm_above_one", domain.MemoryImportanceSet{EventMeta: fmeta(1), Importance: 1, ImportanceNorm: 1.01}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, reason := normalize(tc.event)
			if (reason == "") != tc.valid {
				t.Fatalf("normalize reason = %q, want valid=%v", reason, tc.valid)
			}
		})
	}
}
