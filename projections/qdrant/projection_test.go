package qdrant_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	qc "github.com/qdrant/go-client/qdrant"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/qdrantfake"
	"github.com/somafractalmemory/soma/projections"
	"github.com/somafractalmemory/soma/projections/qdrant"
)

const (
	source = "memory.events"
	model  = "test/4"
	dim    = 4
)

// events builds valid events with unique ids and increasing times.
type events struct{ n int }

func (g *events) meta(ns string) domain.EventMeta {
	g.n++
	return domain.EventMeta{
		EventID:    uuid.NewString(),
		Namespace:  ns,
		OccurredAt: time.Date(2024, 5, 1, 12, 0, g.n, 1000, time.UTC),
		Actor:      "test",
	}
}

func (g *events) store(ns string, c domain.Coordinate, payload string, vec ...float32) domain.MemoryStored {
	if vec == nil {
		vec = []float32{1, 2, 3, 4}
	}
	return domain.MemoryStored{
		EventMeta:      g.meta(ns),
		Coordinate:     c,
		Payload:        json.RawMessage(payload),
		Type:           domain.Episodic,
		ImportanceNorm: domain.NeutralImportance,
		Embedding:      vec,
		EmbeddingModel: model,
	}
}

func (g *events) del(ns string, c domain.Coordinate) domain.MemoryDeleted {
	return domain.MemoryDeleted{EventMeta: g.meta(ns), Coordinate: c}
}

func (g *events) setImportance(ns string, c domain.Coordinate, raw, norm float64) domain.MemoryImportanceSet {
	return domain.MemoryImportanceSet{EventMeta: g.meta(ns), Coordinate: c, Importance: raw, ImportanceNorm: norm}
}

// at places events on partition part from offset first on.
func at(part int32, first int64, evs ...domain.Event) []projections.Envelope {
	out := make([]projections.Envelope, len(evs))
	for i, e := range evs {
		out[i] = projections.Envelope{Event: e, Source: source, Partition: part, Offset: first + int64(i)}
	}
	return out
}

func coord(vals ...float64) domain.Coordinate { return domain.MustCoordinate(vals...) }

// fixture is one backend with a unique serving name.
type fixture struct {
	client *qc.Client
	cfg    qdrant.Config
	seq    *int
}

// fresh returns the fixture with another serving name (same cleanup).
func (f fixture) fresh() fixture {
	*f.seq++
	f.cfg.Collection = fmt.Sprintf("%s_%d", f.cfg.Collection, *f.seq)
	return f
}

func eachBackend(t *testing.T, fn func(t *testing.T, f fixture)) {
	t.Helper()
	for _, b := range qdrantfake.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			client := b.Client(t)
			cfg := qdrant.Config{Collection: qdrantfake.UniqueName(t, "soma"), Dim: dim, EmbeddingModel: model}
			t.Cleanup(func() {
				ctx := context.Background()
				names, _ := client.ListCollections(ctx)
				for _, n := range names {
					if len(n) >= len(cfg.Collection) && n[:len(cfg.Collection)] == cfg.Collection {
						_ = client.DeleteCollection(ctx, n)
					}
				}
			})
			fn(t, fixture{client: client, cfg: cfg, seq: new(int)})
		})
	}
}

func (f fixture) open(t *testing.T) *qdrant.Projection {
	t.Helper()
	p, err := qdrant.New(context.Background(), f.client, f.cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func apply(t *testing.T, p *qdrant.Projection, batch []projections.Envelope) {
	t.Helper()
	if err := p.Apply(context.Background(), batch); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// point reads the point of a memory straight from Qdrant.
func (f fixture) point(t *testing.T, p *qdrant.Projection, ns string, c domain.Coordinate) *qc.RetrievedPoint {
	t.Helper()
	got, err := f.client.Get(context.Background(), &qc.GetPoints{
		CollectionName: p.Alias(),
		Ids:            []*qc.PointId{qc.NewIDUUID(qdrant.PointID(ns, c))},
		WithPayload:    qc.NewWithPayload(true),
		WithVectors:    qc.NewWithVectors(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		return nil
	}
	return got[0]
}

func (f fixture) count(t *testing.T, p *qdrant.Projection) uint64 {
	t.Helper()
	n, err := f.client.Count(context.Background(), &qc.CountPoints{CollectionName: p.Collection(), Exact: qc.PtrOf(true)})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// dump is every point of the generation, for before/after comparisons.
func (f fixture) dump(t *testing.T, p *qdrant.Projection) map[string]string {
	t.Helper()
	pts, err := f.client.Scroll(context.Background(), &qc.ScrollPoints{
		CollectionName: p.Collection(), Limit: qc.PtrOf(uint32(1000)),
		WithPayload: qc.NewWithPayload(true), WithVectors: qc.NewWithVectors(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, pt := range pts {
		out[pt.GetId().GetUuid()] = fmt.Sprint(pt.GetPayload(), pt.GetVectors().GetVector().GetDenseVector().GetData())
	}
	return out
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, f fixture) {
		p := f.open(t)
		var g events
		c := coord(1, 2.5)
		e := g.store("ns1", c, `{"kind":"note","n":3,"x":1.5,"timestamp":1714564800}`, 3, 0, 4, 0)
		imp := 7.0
		e.Importance, e.ImportanceNorm, e.Type = &imp, 0.75, domain.Semantic
		apply(t, p, at(0, 0, e))

		pt := f.point(t, p, "ns1", c)
		if pt == nil {
			t.Fatal("no point after store")
		}
		if pt.GetId().GetUuid() != qdrant.PointID("ns1", c) {
			t.Fatalf("id = %s", pt.GetId().GetUuid())
		}
		vec := pt.GetVectors().GetVector().GetDenseVector().GetData()
		want := []float32{0.6, 0, 0.8, 0}
		for i := range want {
			if math.Abs(float64(vec[i]-want[i])) > 1e-6 {
				t.Fatalf("vector = %v, want %v (normalised embedding)", vec, want)
			}
		}
		pl := pt.GetPayload()
		checks := map[string]any{
			qdrant.KeyNamespace:      "ns1",
			qdrant.KeyCoordKey:       "1,2.5",
			qdrant.KeyMemoryType:     "semantic",
			qdrant.KeyImportanceNorm: 0.75,
			qdrant.KeyImportance:     7.0,
			qdrant.KeyEmbeddingModel: model,
			qdrant.KeyStoredAt:       e.OccurredAt.Format(time.RFC3339Nano),
			qdrant.KeyUpdatedAt:      e.OccurredAt.Format(time.RFC3339Nano),
			qdrant.KeyEventID:        e.EventID,
		}
		for k, v := range checks {
			var got any
			switch v.(type) {
			case string:
				got = pl[k].GetStringValue()
			case float64:
				got = pl[k].GetDoubleValue()
			}
			if got != v {
				t.Errorf("payload[%s] = %v, want %v", k, pl[k], v)
			}
		}
		coordVals := pl[qdrant.KeyCoordinate].GetListValue().GetValues()
		if len(coordVals) != 2 || coordVals[0].GetDoubleValue() != 1 || coordVals[1].GetDoubleValue() != 2.5 {
			t.Errorf("coordinate = %v", pl[qdrant.KeyCoordinate])
		}
		rec := pl[qdrant.KeyPayload].GetStructValue().GetFields()
		if rec["kind"].GetStringValue() != "note" || rec["n"].GetIntegerValue() != 3 || rec["x"].GetDoubleValue() != 1.5 ||
			rec["memory_type"].GetStringValue() != "semantic" || rec["importance_norm"].GetDoubleValue() != 0.75 ||
			len(rec["coordinate"].GetListValue().GetValues()) != 2 || rec["timestamp"].GetIntegerValue() != 1714564800 {
			t.Errorf("record = %v", rec)
		}

		t.Run("record_and_vector_read_back", func(t *testing.T) {
			m, ok, err := p.Record(ctx, "ns1", c)
			if err != nil || !ok {
				t.Fatalf("Record = %v, %v", ok, err)
			}
			want, _ := domain.MemoryFromStored(e)
			if m.Namespace != "ns1" || !m.Coordinate.Equal(c) || m.Type != domain.Semantic || *m.Importance != 7 ||
				m.ImportanceNorm != 0.75 || !m.StoredAt.Equal(e.OccurredAt) || m.LastEventID != e.EventID {
				t.Fatalf("memory = %+v", m)
			}
			if fmt.Sprint(m.Payload) != fmt.Sprint(want.Payload) {
				t.Fatalf("payload = %v, want %v", m.Payload, want.Payload)
			}
			v, ok, err := p.Vector(ctx, "ns1", c)
			if err != nil || !ok || len(v) != dim {
				t.Fatalf("Vector = %v, %v, %v", v, ok, err)
			}
			if _, ok, _ := p.Vector(ctx, "ns1", coord(9)); ok {
				t.Fatal("Vector of a missing memory reported ok")
			}
		})
		t.Run("indexes_exist", func(t *testing.T) {
			info, err := f.client.GetCollectionInfo(ctx, p.Collection())
			if err != nil {
				t.Fatal(err)
			}
			ns := info.GetPayloadSchema()[qdrant.KeyNamespace]
			if ns.GetDataType() != qc.PayloadSchemaType_Keyword || !ns.GetParams().GetKeywordIndexParams().GetIsTenant() {
				t.Errorf("namespace index = %v", ns)
			}
			if mt := info.GetPayloadSchema()[qdrant.KeyMemoryType]; mt.GetDataType() != qc.PayloadSchemaType_Keyword {
				t.Errorf("memory_type index = %v", mt)
			}
		})
	})
}

func TestFoldingAndIdempotence(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, f fixture) {
		t.Run("restore_replaces_one_point_per_coordinate", func(t *testing.T) {
			p := f.fresh().open(t)
			var g events
			apply(t, p, at(0, 0, g.store("ns", coord(9), `{"v":1}`)))
			apply(t, p, at(0, 1, g.store("ns", coord(9.0), `{"v":2}`, 0, 1, 0, 0)))
			if n := f.count(t, p); n != 1 {
				t.Fatalf("points = %d, want 1", n)
			}
			rec := f.point(t, p, "ns", coord(9)).GetPayload()[qdrant.KeyPayload].GetStructValue().GetFields()
			if rec["v"].GetIntegerValue() != 2 {
				t.Fatalf("record = %v, want v=2", rec)
			}
		})
		t.Run("delete_removes", func(t *testing.T) {
			p := f.fresh().open(t)
			var g events
			apply(t, p, at(0, 0, g.store("ns", coord(1), `{}`), g.store("ns", coord(2), `{}`)))
			apply(t, p, at(0, 2, g.del("ns", coord(1)), g.del("ns", coord(3))))
			if f.point(t, p, "ns", coord(1)) != nil || f.point(t, p, "ns", coord(2)) == nil {
				t.Fatal("delete removed the wrong points")
			}
		})
		t.Run("last_write_in_a_batch_wins", func(t *testing.T) {
			p := f.fresh().open(t)
			var g events
			apply(t, p, at(0, 0,
				g.store("ns", coord(1), `{"v":1}`), g.del("ns", coord(1)), // stored then deleted
				g.del("ns", coord(2)), g.store("ns", coord(2), `{"v":2}`), // deleted then stored
				g.store("ns", coord(3), `{"v":1}`), g.store("ns", coord(3), `{"v":3}`),
			))
			if f.point(t, p, "ns", coord(1)) != nil {
				t.Error("store then delete left a point")
			}
			if pt := f.point(t, p, "ns", coord(2)); pt == nil {
				t.Error("delete then store left no point")
			}
			if v := f.point(t, p, "ns", coord(3)).GetPayload()[qdrant.KeyPayload].GetStructValue().GetFields()["v"].GetIntegerValue(); v != 3 {
				t.Errorf("v = %d, want 3", v)
			}
		})
		t.Run("same_batch_twice_is_once", func(t *testing.T) {
			p := f.fresh().open(t)
			var g events
			batch := at(0, 0, g.store("ns", coord(1), `{"v":1}`), g.store("ns", coord(2), `{}`),
				g.del("ns", coord(2)), g.setImportance("ns", coord(1), 5, 0.9))
			apply(t, p, batch)
			before := f.dump(t, p)
			apply(t, p, batch)
			if after := f.dump(t, p); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("second apply changed the index:\n%v\n%v", before, after)
			}
			pos, err := p.Positions(ctx, source)
			if err != nil || !maps.Equal(pos, map[int32]int64{0: 3}) {
				t.Fatalf("positions = %v, %v", pos, err)
			}
		})
		t.Run("events_at_or_below_the_position_are_skipped", func(t *testing.T) {
			p := f.fresh().open(t)
			var g events
			apply(t, p, at(0, 0, g.store("ns", coord(1), `{}`), g.store("ns", coord(2), `{}`)))
			apply(t, p, at(1, 0, g.store("ns", coord(3), `{}`)))
			// Redelivery of offset 1 of partition 0 (now a delete) is
			// skipped; offset 2 applies.
			redelivered := at(0, 1, g.del("ns", coord(2)), g.del("ns", coord(1)))
			apply(t, p, redelivered)
			if f.point(t, p, "ns", coord(2)) == nil || f.point(t, p, "ns", coord(1)) != nil {
				t.Fatal("an event at the position was applied, or one above it was not")
			}
			pos, err := p.Positions(ctx, source)
			if err != nil || !maps.Equal(pos, map[int32]int64{0: 2, 1: 0}) {
				t.Fatalf("positions = %v, %v", pos, err)
			}
			other, err := p.Positions(ctx, "other-source")
			if err != nil || len(other) != 0 {
				t.Fatalf("positions of another source = %v, %v", other, err)
			}
		})
		t.Run("importance_set", func(t *testing.T) {
			p := f.fresh().open(t)
			var g events
			apply(t, p, at(0, 0, g.store("ns", coord(1), `{"importance":1}`)))
			set := g.setImportance("ns", coord(1), 8, 0.8)
			apply(t, p, at(0, 1, set, g.setImportance("ns", coord(2), 8, 0.8)))
			pt := f.point(t, p, "ns", coord(1))
			pl := pt.GetPayload()
			rec := pl[qdrant.KeyPayload].GetStructValue().GetFields()
			if pl[qdrant.KeyImportanceNorm].GetDoubleValue() != 0.8 || pl[qdrant.KeyImportance].GetDoubleValue() != 8 ||
				rec["importance"].GetDoubleValue() != 8 || rec["importance_norm"].GetDoubleValue() != 0.8 ||
				pl[qdrant.KeyEventID].GetStringValue() != set.EventID {
				t.Fatalf("payload after importance set = %v", pl)
			}
			if len(pt.GetVectors().GetVector().GetDenseVector().GetData()) != dim {
				t.Fatal("importance set lost the vector")
			}
			if f.point(t, p, "ns", coord(2)) != nil {
				t.Fatal("importance set on an unknown memory created a point")
			}
			// In one batch: stored, changed, deleted, changed again.
			apply(t, p, at(0, 3, g.store("ns", coord(4), `{}`), g.setImportance("ns", coord(4), 2, 0.2),
				g.del("ns", coord(1)), g.setImportance("ns", coord(1), 3, 0.3)))
			if v := f.point(t, p, "ns", coord(4)).GetPayload()[qdrant.KeyImportanceNorm].GetDoubleValue(); v != 0.2 {
				t.Fatalf("importance_norm = %v, want 0.2", v)
			}
			if f.point(t, p, "ns", coord(1)) != nil {
				t.Fatal("importance set after delete resurrected the memory")
			}
		})
		t.Run("links_are_ignored_but_advance_the_position", func(t *testing.T) {
			p := f.fresh().open(t)
			var g events
			apply(t, p, at(0, 0,
				domain.MemoriesLinked{EventMeta: g.meta("ns"), From: coord(1), To: coord(2), LinkType: "related", Weight: 1},
				&domain.MemoryUnlinked{EventMeta: g.meta("ns"), From: coord(1), To: coord(2)}))
			if n := f.count(t, p); n != 0 {
				t.Fatalf("points = %d, want 0", n)
			}
			pos, err := p.Positions(ctx, source)
			if err != nil || !maps.Equal(pos, map[int32]int64{0: 1}) {
				t.Fatalf("positions = %v, %v", pos, err)
			}
		})
		t.Run("namespaces_are_separate_points", func(t *testing.T) {
			p := f.fresh().open(t)
			var g events
			apply(t, p, at(0, 0, g.store("a", coord(1), `{}`), g.store("b", coord(1), `{}`), g.del("a", coord(1))))
			if f.point(t, p, "a", coord(1)) != nil || f.point(t, p, "b", coord(1)) == nil {
				t.Fatal("a delete in one namespace touched another")
			}
			total, episodic, semantic, err := p.Counts(ctx, "b")
			if err != nil || total != 1 || episodic != 1 || semantic != 0 {
				t.Fatalf("counts = %d %d %d, %v", total, episodic, semantic, err)
			}
		})
	})
}

func TestPoison(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, f fixture) {
		p := f.open(t)
		var g events
		wrongDim := g.store("ns", coord(2), `{}`, 1, 2)
		otherModel := g.store("ns", coord(3), `{}`)
		otherModel.EmbeddingModel = "other/4"
		notObject := g.store("ns", coord(4), `[1]`)
		badNS := g.store("bad ns", coord(5), `{}`)
		cases := []struct {
			name string
			ev   domain.Event
		}{
			{"wrong_dimension", wrongDim},
			{"other_embedding_model", otherModel},
			{"payload_not_an_object", notObject},
			{"invalid_namespace", badNS},
			{"nil_event", (*domain.MemoryStored)(nil)},
			{"importance_norm_out_of_range", g.setImportance("ns", coord(1), 1, 1.5)},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				batch := at(0, int64(10*i), g.store("ns", coord(1), `{}`), tc.ev)
				err := p.Apply(ctx, batch)
				var pe *qdrant.PoisonError
				if !errors.Is(err, projections.ErrPoison) || !errors.As(err, &pe) || pe.Index != 1 {
					t.Fatalf("err = %v, want a PoisonError at index 1", err)
				}
				if f.count(t, p) != 0 {
					t.Fatal("a poison batch wrote points")
				}
				if pos, _ := p.Positions(ctx, source); len(pos) != 0 {
					t.Fatalf("a poison batch moved the position: %v", pos)
				}
			})
		}
	})
}

func TestNew(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, f fixture) {
		p := f.open(t)
		if p.Alias() != f.cfg.Collection || p.Collection() != f.cfg.Collection+"_g1" {
			t.Fatalf("alias %s, collection %s", p.Alias(), p.Collection())
		}
		var g events
		apply(t, p, at(0, 0, g.store("ns", coord(1), `{}`)))

		t.Run("second_new_keeps_the_data", func(t *testing.T) {
			again := f.open(t)
			if again.Collection() != p.Collection() {
				t.Fatalf("second New writes to %s, first to %s", again.Collection(), p.Collection())
			}
			if f.count(t, again) != 1 {
				t.Fatal("data lost on second New")
			}
			if pos, err := again.Positions(ctx, source); err != nil || !maps.Equal(pos, map[int32]int64{0: 0}) {
				t.Fatalf("positions = %v, %v", pos, err)
			}
		})
		t.Run("dimension_mismatch_is_refused", func(t *testing.T) {
			cfg := f.cfg
			cfg.Dim = 8
			_, err := qdrant.New(ctx, f.client, cfg)
			if !errors.Is(err, qdrant.ErrIncompatibleCollection) {
				t.Fatalf("err = %v, want ErrIncompatibleCollection", err)
			}
			info, err := f.client.GetCollectionInfo(ctx, p.Collection())
			if err != nil || info.GetConfig().GetParams().GetVectorsConfig().GetParams().GetSize() != dim || info.GetPointsCount() != 1 {
				t.Fatalf("collection changed after a refused New: %v, %v", info, err)
			}
		})
		t.Run("next_generation_and_promote", func(t *testing.T) {
			cfg := f.cfg
			cfg.Generation = f.cfg.Collection + "_g2"
			next, err := qdrant.New(ctx, f.client, cfg)
			if err != nil {
				t.Fatal(err)
			}
			apply(t, next, at(0, 0, g.store("ns", coord(1), `{}`), g.store("ns", coord(2), `{}`)))
			if n := f.count(t, p); n != 1 {
				t.Fatalf("serving generation changed before promote: %d points", n)
			}
			if err := next.Promote(ctx); err != nil {
				t.Fatal(err)
			}
			n, err := f.client.Count(ctx, &qc.CountPoints{CollectionName: f.cfg.Collection, Exact: qc.PtrOf(true)})
			if err != nil || n != 2 {
				t.Fatalf("points behind the alias after promote = %d, %v; want 2", n, err)
			}
			// A plain New now follows the alias to the new generation.
			if again := f.open(t); again.Collection() != cfg.Generation {
				t.Fatalf("New after promote writes to %s", again.Collection())
			}
		})
	})
}

// Recall filters inside the search, before the top-k cut: tenant, type
// and payload equality (numbers numerically) against the points this
// projection writes.
func TestRecallFilterBeforeLimit(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, f fixture) {
		p := f.open(t)
		var g events
		var batch []domain.Event
		for i := range 40 {
			batch = append(batch, g.store("ns", coord(float64(i)), `{"kind":"noise"}`, 1, float32(i)/100, 0, 0))
		}
		target := g.store("ns", coord(100), `{"kind":"wanted","n":2.0}`, -1, 0.1, 0, 0)
		target.Type = domain.Semantic
		intTarget := g.store("ns", coord(101), `{"kind":"wanted","n":2}`, 0, 1, 0, 0)
		intTarget.Type = domain.Semantic
		other := g.store("other", coord(100), `{"kind":"wanted","n":2}`, 1, 0, 0, 0)
		other.Type = domain.Semantic
		batch = append(batch, target, intTarget, other)
		apply(t, p, at(0, 0, batch...))

		kind, _ := qdrant.PayloadPath("kind")
		n, _ := qdrant.PayloadPath("n")
		got, err := f.client.Query(ctx, &qc.QueryPoints{
			CollectionName: p.Alias(),
			Query:          qc.NewQuery(1, 0, 0, 0),
			Filter: &qc.Filter{Must: []*qc.Condition{
				qc.NewMatchKeyword(qdrant.KeyNamespace, "ns"),
				qc.NewMatchKeyword(qdrant.KeyMemoryType, string(domain.Semantic)),
				qc.NewMatchKeyword(kind, "wanted"),
				qc.NewRange(n, &qc.Range{Gte: qc.PtrOf(2.0), Lte: qc.PtrOf(2.0)}),
			}},
			Limit:       qc.PtrOf(uint64(2)),
			WithPayload: qc.NewWithPayload(true),
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{qdrant.PointID("ns", coord(101)), qdrant.PointID("ns", coord(100))}
		var ids []string
		for _, sp := range got {
			ids = append(ids, sp.GetId().GetUuid())
		}
		if !slices.Equal(ids, want) {
			t.Fatalf("ids = %v, want %v (the two wanted memories of ns, best first)", ids, want)
		}
	})
}

func TestPointID(t *testing.T) {
	a := qdrant.PointID("ns", coord(9))
	if _, err := uuid.Parse(a); err != nil {
		t.Fatalf("not a UUID: %s", a)
	}
	cases := []struct {
		name string
		id   string
		same bool
	}{
		{"same_for_equal_coordinates", qdrant.PointID("ns", domain.MustCoordinate(9.0)), true},
		{"differs_by_namespace", qdrant.PointID("ns2", coord(9)), false},
		{"differs_by_coordinate", qdrant.PointID("ns", coord(9, 0)), false},
		{"nul_separates_namespace_and_key", qdrant.PointID("ns9", domain.Coordinate{}), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.id == a) != tc.same {
				t.Fatalf("PointID = %s vs %s", tc.id, a)
			}
		})
	}
	// Pinned: changing the id scheme re-keys every stored point.
	if got := qdrant.PointID("ns", coord(1, 2)); got != "3df75abd-2be6-5303-b7ca-71511bb67077" {
		t.Fatalf("PointID(ns, 1,2) = %s, changed", got)
	}
}

func TestPayloadPath(t *testing.T) {
	cases := []struct {
		key, want string
		ok        bool
	}{
		{"kind", "payload.kind", true},
		{"a_b-c9", "payload.a_b-c9", true},
		{"a.b", `payload."a.b"`, true},
		{"with space", `payload."with space"`, true},
		{"", "", false},
		{`q"uote`, "", false},
		{`back\slash`, "", false},
	}
	for _, tc := range cases {
		got, ok := qdrant.PayloadPath(tc.key)
		if got != tc.want || ok != tc.ok {
			t.Errorf("PayloadPath(%q) = %q, %v; want %q, %v", tc.key, got, ok, tc.want, tc.ok)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  qdrant.Config
		ok   bool
	}{
		{"defaults_with_dim", qdrant.Config{Dim: 384}, true},
		{"rejects_zero_dim", qdrant.Config{}, false},
		{"rejects_bad_collection_name", qdrant.Config{Collection: "a b", Dim: 3}, false},
		{"rejects_generation_equal_to_alias", qdrant.Config{Collection: "x", Generation: "x", Dim: 3}, false},
		{"rejects_negative_batch", qdrant.Config{Dim: 3, BatchSize: -1}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate = %v", err)
			}
			if err != nil && !errors.Is(err, qdrant.ErrInvalidConfig) {
				t.Fatalf("error does not wrap ErrInvalidConfig: %v", err)
			}
		})
	}
	if err := (qdrant.Config{Collection: "a b"}).Validate(); err == nil || !strings.Contains(err.Error(), "collection") || !strings.Contains(err.Error(), "Dim") {
		t.Fatalf("Validate should report every problem at once: %v", err)
	}
}

func BenchmarkApply1000Stores(b *testing.B) {
	ctx := context.Background()
	client := qdrantfake.Connect(b, qdrantfake.Start(b))
	p, err := qdrant.New(ctx, client, qdrant.Config{Collection: "bench", Dim: 384})
	if err != nil {
		b.Fatal(err)
	}
	var g events
	vec := make([]float32, 384)
	for i := range vec {
		vec[i] = float32(i%7) + 1
	}
	var batch []projections.Envelope
	offset := int64(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		batch = batch[:0]
		for j := range 1000 {
			batch = append(batch, projections.Envelope{
				Event:  g.store("bench", coord(float64(j)), `{"kind":"bench","n":1}`, vec...),
				Source: source, Offset: offset,
			})
			offset++
		}
		b.StartTimer()
		if err := p.Apply(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}
