package embedded_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/internal/vectorindex"
	"github.com/somafractalmemory/soma/projections"
	"github.com/somafractalmemory/soma/projections/embedded"
)

const (
	ns    = "tenant"
	model = "test/4"
)

// gen builds events with unique ids and increasing times.
type gen struct{ n int }

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func (g *gen) meta(ns string) domain.EventMeta {
	g.n++
	return domain.EventMeta{EventID: uuid.NewString(), Namespace: ns, OccurredAt: t0.Add(time.Duration(g.n) * time.Millisecond), Actor: "test"}
}

func (g *gen) store(ns string, c domain.Coordinate, payload string, vec []float32) domain.MemoryStored {
	return domain.MemoryStored{
		EventMeta: g.meta(ns), Coordinate: c, Payload: []byte(payload), Type: domain.Episodic,
		ImportanceNorm: domain.NeutralImportance, Embedding: vec, EmbeddingModel: model,
	}
}

func (g *gen) del(ns string, c domain.Coordinate) domain.MemoryDeleted {
	return domain.MemoryDeleted{EventMeta: g.meta(ns), Coordinate: c}
}

func (g *gen) link(ns string, from, to domain.Coordinate, typ string, w float64) domain.MemoriesLinked {
	return domain.MemoriesLinked{EventMeta: g.meta(ns), From: from, To: to, LinkType: typ, Weight: w}
}

func (g *gen) setImportance(ns string, c domain.Coordinate, raw, norm float64) domain.MemoryImportanceSet {
	return domain.MemoryImportanceSet{EventMeta: g.meta(ns), Coordinate: c, Importance: raw, ImportanceNorm: norm}
}

func c(vals ...float64) domain.Coordinate { return domain.MustCoordinate(vals...) }

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustAppend(t testing.TB, s *embedded.Store, evs ...domain.Event) consistency.Token {
	t.Helper()
	tok, err := s.Append(ctxT(t), evs)
	if err != nil {
		t.Fatalf("Append(%d events): %v", len(evs), err)
	}
	return tok
}

func search(t testing.TB, s *embedded.Store, q vectorindex.Query) []string {
	t.Helper()
	if q.TopK == 0 {
		q.TopK = 10
	}
	if q.Namespace == "" {
		q.Namespace = ns
	}
	res, err := s.Search(ctxT(t), q)
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	keys := []string{}
	for _, r := range res {
		keys = append(keys, r.Key)
	}
	return keys
}

func checkIndex(t testing.TB, s *embedded.Store) {
	t.Helper()
	if err := s.CheckIndex(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestAppendIsTheLog(t *testing.T) {
	ctx := ctxT(t)
	s := openStore(t, testConfig(t.TempDir()))
	var g gen
	a, b, x := c(1), c(2), c(3)
	stA := g.store(ns, a, `{"text":"a"}`, []float32{1, 0, 0, 0})
	stB := g.store(ns, b, `{"text":"b"}`, []float32{0, 1, 0, 0})
	stB.Type = domain.Semantic
	ab := g.link(ns, a, b, "related", 1)
	tok := mustAppend(t, s, stA, stB, ab)
	if want := (consistency.Token{Source: consistency.EventLogSource, Positions: map[int32]int64{0: 3}}); !reflect.DeepEqual(tok, want) {
		t.Fatalf("token = %+v, want %+v", tok, want)
	}
	if pos, _ := s.Positions(ctx, consistency.EventLogSource); !reflect.DeepEqual(pos, map[int32]int64{0: 3}) {
		t.Fatalf("Positions = %v", pos)
	}

	t.Run("events_read_back_in_order", func(t *testing.T) {
		envs, err := s.Events(ctx, 0, 10)
		if err != nil || len(envs) != 3 {
			t.Fatalf("Events = %d, %v", len(envs), err)
		}
		for i, env := range envs {
			want := []domain.Event{stA, stB, ab}[i]
			if env.Source != consistency.EventLogSource || env.Partition != 0 || env.Offset != int64(i+1) ||
				env.Event.Metadata().EventID != want.Metadata().EventID || env.Event.EventName() != want.EventName() {
				t.Fatalf("event %d = %+v, want %s at offset %d", i, env, want.EventName(), i+1)
			}
		}
		if page, _ := s.Events(ctx, 2, 10); len(page) != 1 || page[0].Offset != 3 {
			t.Fatalf("Events after 2 = %+v", page)
		}
	})
	t.Run("directory", func(t *testing.T) {
		got, err := s.Existing(ctx, ns, []string{a.Key(), b.Key(), x.Key()})
		if err != nil || !reflect.DeepEqual(got, map[string]bool{"1": true, "2": true, "3": false}) {
			t.Fatalf("Existing = %v, %v", got, err)
		}
	})
	t.Run("search_sees_the_append", func(t *testing.T) {
		if got := search(t, s, vectorindex.Query{Model: model, Vector: []float32{1, 0.1, 0, 0}}); !slices.Equal(got, []string{"1", "2"}) {
			t.Fatalf("search = %v", got)
		}
		if got := search(t, s, vectorindex.Query{Model: model, Vector: []float32{1, 0, 0, 0}, Type: "semantic"}); !slices.Equal(got, []string{"2"}) {
			t.Fatalf("semantic search = %v", got)
		}
		if got := search(t, s, vectorindex.Query{Model: model, Vector: []float32{1, 0, 0, 0}, Filters: map[string]any{"text": "b"}}); !slices.Equal(got, []string{"2"}) {
			t.Fatalf("filtered search = %v", got)
		}
	})
	t.Run("delete_leaves_the_index", func(t *testing.T) {
		mustAppend(t, s, g.del(ns, a))
		if got := search(t, s, vectorindex.Query{Model: model, Vector: []float32{1, 0, 0, 0}}); !slices.Equal(got, []string{"2"}) {
			t.Fatalf("search after delete = %v", got)
		}
		if got, _ := s.Existing(ctx, ns, []string{a.Key()}); got[a.Key()] {
			t.Fatal("deleted memory still exists")
		}
		checkIndex(t, s)
	})
	t.Run("history_of_a_memory", func(t *testing.T) {
		h, err := s.History(ctx, ns, a, 10)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range h {
			names = append(names, e.EventType)
			if e.Event.EventName() != e.EventType || e.Source != consistency.EventLogSource || e.Offset != e.Seq {
				t.Fatalf("entry %+v", e)
			}
		}
		if want := []string{domain.EventMemoryStored, domain.EventMemoriesLinked, domain.EventMemoryDeleted}; !slices.Equal(names, want) {
			t.Fatalf("history = %v, want %v", names, want)
		}
		if last, _ := s.History(ctx, ns, a, 1); len(last) != 1 || last[0].EventType != domain.EventMemoryDeleted {
			t.Fatalf("History limit 1 = %+v", last)
		}
		if !h[0].OccurredAt.Equal(stA.OccurredAt) {
			t.Fatalf("OccurredAt = %v, want %v", h[0].OccurredAt, stA.OccurredAt)
		}
	})
}

func TestDuplicateEventIDsApplyOnce(t *testing.T) {
	ctx := ctxT(t)
	s := openStore(t, testConfig(t.TempDir()))
	var g gen
	st := g.store(ns, c(1), `{}`, []float32{1, 1, 1, 1})
	mustAppend(t, s, st)
	set := g.setImportance(ns, c(1), 3, 0.9)
	mustAppend(t, s, set)
	// The same importance change again (a retried command), then from
	// another source: applied once.
	tok := mustAppend(t, s, set)
	if tok.Positions[0] != 3 {
		t.Fatalf("token = %v, want position 3", tok)
	}
	if err := s.Apply(ctx, []projections.Envelope{{Event: set, Source: "memory.events", Partition: 0, Offset: 0}}); err != nil {
		t.Fatal(err)
	}
	m, _, err := s.Get(ctx, ns, c(1))
	if err != nil || m.Version != 2 {
		t.Fatalf("Version = %d (%v), want 2", m.Version, err)
	}
	if envs, _ := s.Events(ctx, 0, 10); len(envs) != 2 {
		t.Fatalf("event_log has %d rows, want 2", len(envs))
	}
	if pos, _ := s.Positions(ctx, "memory.events"); !reflect.DeepEqual(pos, map[int32]int64{0: 0}) {
		t.Fatalf("Positions(memory.events) = %v", pos)
	}
	// The log goes on after an append that applied nothing.
	next := g.store(ns, c(2), `{}`, nil)
	if tok := mustAppend(t, s, next); tok.Positions[0] != 4 {
		t.Fatalf("token after a duplicate = %v, want position 4", tok)
	}
	if _, ok, _ := s.Get(ctx, ns, c(2)); !ok {
		t.Fatal("the append after a duplicate was not applied")
	}
}

func TestImportanceChangesScoreAndFilters(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, testConfig(dir))
	var g gen
	a := g.store(ns, c(1), `{"k":"a"}`, []float32{1, 0, 0, 0})
	b := g.store(ns, c(2), `{"k":"b"}`, []float32{1, 0.2, 0, 0})
	mustAppend(t, s, a, b)
	if got := search(t, s, vectorindex.Query{Model: model, Vector: []float32{1, 0, 0, 0}}); !slices.Equal(got, []string{"1", "2"}) {
		t.Fatalf("before = %v", got)
	}
	mustAppend(t, s, g.setImportance(ns, c(2), 7, 1))
	check := func(t *testing.T, s *embedded.Store) {
		t.Helper()
		if got := search(t, s, vectorindex.Query{Model: model, Vector: []float32{1, 0, 0, 0}}); !slices.Equal(got, []string{"2", "1"}) {
			t.Fatalf("after the importance change = %v, want 2 first", got)
		}
		if got := search(t, s, vectorindex.Query{Model: model, Vector: []float32{1, 0, 0, 0}, Filters: map[string]any{"importance": 7}}); !slices.Equal(got, []string{"2"}) {
			t.Fatalf("filter on the new importance = %v", got)
		}
		checkIndex(t, s)
	}
	check(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(t, openStore(t, testConfig(dir)))
}

func TestEmbeddingModels(t *testing.T) {
	ctx := ctxT(t)
	dir := t.TempDir()
	s := openStore(t, testConfig(dir))
	var g gen
	if got := search(t, s, vectorindex.Query{Model: "any/4", Vector: []float32{1, 0, 0, 0}}); len(got) != 0 {
		t.Fatalf("search of an empty store = %v", got)
	}
	mustAppend(t, s, g.store(ns, c(1), `{}`, []float32{1, 0, 0, 0}))
	if m, d := s.IndexModel(); m != model || d != 4 {
		t.Fatalf("IndexModel = %s, %d; want the first vector's", m, d)
	}
	other := g.store(ns, c(2), `{}`, []float32{1, 0, 0})
	other.EmbeddingModel = "other/3"
	mustAppend(t, s, other)

	t.Run("other_model_kept_but_not_indexed", func(t *testing.T) {
		if _, ok, _ := s.Get(ctx, ns, c(2)); !ok {
			t.Fatal("memory of another model not stored")
		}
		if v, ok, _ := s.Vector(ctx, ns, c(2)); !ok || len(v) != 3 {
			t.Fatalf("vector of another model = %v, %v", v, ok)
		}
		if got := search(t, s, vectorindex.Query{Model: model, Vector: []float32{1, 0, 0, 0}}); !slices.Equal(got, []string{"1"}) {
			t.Fatalf("search = %v", got)
		}
		checkIndex(t, s)
	})
	t.Run("query_of_another_model_refused", func(t *testing.T) {
		for _, q := range []vectorindex.Query{
			{Namespace: ns, Model: "other/3", Vector: []float32{1, 0, 0}, TopK: 1},
			{Namespace: ns, Model: model, Vector: []float32{1, 0, 0}, TopK: 1},
		} {
			if _, err := s.Search(ctx, q); !errors.Is(err, vectorindex.ErrModelMismatch) {
				t.Fatalf("Search(%s, %d dims) = %v, want ErrModelMismatch", q.Model, len(q.Vector), err)
			}
		}
	})
	t.Run("same_model_other_dimension_is_poison", func(t *testing.T) {
		bad := g.store(ns, c(3), `{}`, []float32{1, 0})
		_, err := s.Append(ctx, []domain.Event{g.store(ns, c(4), `{}`, []float32{0, 1, 0, 0}), bad})
		var poison *embedded.PoisonError
		if !errors.As(err, &poison) || !errors.Is(err, projections.ErrPoison) || poison.Index != 1 {
			t.Fatalf("Append = %v, want a poison error at index 1", err)
		}
		if got, _ := s.Existing(ctx, ns, []string{"3", "4"}); got["3"] || got["4"] {
			t.Fatalf("part of a refused batch was stored: %v", got)
		}
	})
	t.Run("restore_with_another_model_leaves_the_index", func(t *testing.T) {
		re := g.store(ns, c(1), `{}`, []float32{0, 0, 1})
		re.EmbeddingModel = "other/3"
		mustAppend(t, s, re)
		if got := search(t, s, vectorindex.Query{Model: model, Vector: []float32{1, 0, 0, 0}}); len(got) != 0 {
			t.Fatalf("search = %v, want nothing", got)
		}
		checkIndex(t, s)
	})
	t.Run("configured_model_rebuilds_the_index", func(t *testing.T) {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig(dir)
		cfg.EmbeddingModel = "other/3"
		s2 := openStore(t, cfg)
		if m, d := s2.IndexModel(); m != "other/3" || d != 3 {
			t.Fatalf("IndexModel = %s, %d", m, d)
		}
		if got := search(t, s2, vectorindex.Query{Model: "other/3", Vector: []float32{1, 0, 0}}); !slices.Equal(got, []string{"2", "1"}) {
			t.Fatalf("search = %v", got)
		}
		if _, err := s2.Search(ctx, vectorindex.Query{Namespace: ns, Model: model, Vector: []float32{1, 0, 0, 0}, TopK: 1}); !errors.Is(err, vectorindex.ErrModelMismatch) {
			t.Fatalf("query of the old model = %v", err)
		}
		checkIndex(t, s2)
	})
}

func TestRangeMatchesBruteForce(t *testing.T) {
	ctx := ctxT(t)
	s := openStore(t, testConfig(t.TempDir()))
	rng := rand.New(rand.NewPCG(1, 1))
	var (
		g    gen
		evs  []domain.Event
		all  []domain.Coordinate
		typs = map[string]domain.MemoryType{}
	)
	seen := map[string]bool{}
	for range 400 {
		vals := make([]float64, rng.IntN(4))
		for i := range vals {
			vals[i] = float64(rng.IntN(7)) - 3 + float64(rng.IntN(2))/2
		}
		co := c(vals...)
		if seen[co.Key()] {
			continue
		}
		seen[co.Key()] = true
		st := g.store(ns, co, `{}`, nil)
		if rng.IntN(2) == 0 {
			st.Type = domain.Semantic
		}
		typs[co.Key()] = st.Type
		evs = append(evs, st)
		all = append(all, co)
	}
	evs = append(evs, g.store("elsewhere", c(0), `{}`, nil))
	mustAppend(t, s, evs...)
	bound := func() domain.Coordinate {
		vals := make([]float64, rng.IntN(3))
		for i := range vals {
			vals[i] = float64(rng.IntN(9)) - 4
		}
		return c(vals...)
	}
	for i := range 200 {
		lo, hi := bound(), bound()
		typ := []domain.MemoryType{"", domain.Episodic, domain.Semantic}[i%3]
		limit := []int{0, 0, 5}[i%3]
		var want []string
		for _, co := range all {
			if co.InRange(lo, hi) && (typ == "" || typs[co.Key()] == typ) {
				want = append(want, co.Key())
			}
		}
		slices.Sort(want)
		if limit > 0 && len(want) > limit {
			want = want[:limit]
		}
		got, err := s.Range(ctx, ns, lo, hi, typ, limit)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, co := range got {
			keys = append(keys, co.Key())
		}
		if !slices.Equal(keys, want) {
			t.Fatalf("Range(%v, %v, %q, %d) = %v, want %v", lo, hi, typ, limit, keys, want)
		}
	}
}

func TestExportAndOutEdges(t *testing.T) {
	ctx := ctxT(t)
	s := openStore(t, testConfig(t.TempDir()))
	var (
		g    gen
		evs  []domain.Event
		want []string
	)
	for i := range 1200 { // more than two pages
		co := c(float64(i%37), float64(i))
		evs = append(evs, g.store(ns, co, fmt.Sprintf(`{"i":%d}`, i), nil))
		want = append(want, co.Key())
	}
	evs = append(evs, g.store(ns, c(), `{"root":true}`, nil))
	want = append(want, "")
	slices.Sort(want)
	evs = append(evs,
		g.link(ns, c(0, 0), c(1, 1), "next", 1),
		g.link(ns, c(0, 0), c(2, 2), "other", 2),
		g.link(ns, c(1, 1), c(0, 0), "next", 0.5),
		g.link(ns, c(), c(0, 0), "root", 1),
	)
	mustAppend(t, s, evs...)

	var got []string
	err := s.Export(ctx, ns, func(m domain.Memory) error {
		got = append(got, m.Coordinate.Key())
		return nil
	})
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Export = %d keys (%v), want %d in key order", len(got), err, len(want))
	}
	stop := errors.New("stop")
	n := 0
	if err := s.Export(ctx, ns, func(domain.Memory) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("Export with a failing fn = %v after %d", err, n)
	}

	edges, err := s.OutEdges(ctx, ns, []string{"0,0", "1,1", "", "5,5"}, "")
	if err != nil {
		t.Fatal(err)
	}
	view := map[string][]string{}
	for k, ls := range edges {
		for _, l := range ls {
			if l.From.Key() != k {
				t.Fatalf("edge %v under key %q", l, k)
			}
			view[k] = append(view[k], l.To.Key()+"/"+l.Type)
		}
	}
	if want := map[string][]string{"0,0": {"1,1/next", "2,2/other"}, "1,1": {"0,0/next"}, "": {"0,0/root"}}; !reflect.DeepEqual(view, want) {
		t.Fatalf("OutEdges = %v, want %v", view, want)
	}
	if edges, _ := s.OutEdges(ctx, ns, []string{"0,0", "1,1"}, "next"); len(edges["0,0"]) != 1 || len(edges["1,1"]) != 1 {
		t.Fatalf("OutEdges of type next = %v", edges)
	}
	if ls, _ := s.Neighbors(ctx, ns, c(0, 0), "", 1); len(ls) != 1 || ls[0].To.Key() != "1,1" {
		t.Fatalf("Neighbors limit 1 = %v", ls)
	}
	if ls, _ := s.Neighbors(ctx, ns, c(0, 0), "", 0); ls == nil || len(ls) != 0 {
		t.Fatalf("Neighbors limit 0 = %#v, want empty", ls)
	}
}

// snapshot is everything readable about a store.
type snapshot struct {
	Records   []string
	Links     map[string][]string
	Counts    map[string][3]int64
	Positions map[string]map[int32]int64
	Events    []string
	Hits      [][]vectorindex.Result
	IndexLen  int
}

func takeSnapshot(t *testing.T, s *embedded.Store, nss []string, queries []vectorindex.Query) snapshot {
	t.Helper()
	ctx := ctxT(t)
	sn := snapshot{Links: map[string][]string{}, Counts: map[string][3]int64{}, Positions: map[string]map[int32]int64{}}
	for _, n := range nss {
		err := s.Export(ctx, n, func(m domain.Memory) error {
			sn.Records = append(sn.Records, fmt.Sprintf("%s/%s %s %v %v %v %d %s %s %s", n, m.Coordinate.Key(), m.Type,
				m.Payload, ptrVal(m.Importance), m.ImportanceNorm, m.Version, m.LastEventID, m.StoredAt.Format(time.RFC3339Nano), m.UpdatedAt.Format(time.RFC3339Nano)))
			ls, err := s.Neighbors(ctx, n, m.Coordinate, "", 1000)
			for _, l := range ls {
				sn.Links[n+"/"+m.Coordinate.Key()] = append(sn.Links[n+"/"+m.Coordinate.Key()], fmt.Sprintf("%s %s %v %s", l.To.Key(), l.Type, l.Weight, l.CreatedAt.Format(time.RFC3339Nano)))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		tot, ep, se, err := s.Counts(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		sn.Counts[n] = [3]int64{tot, ep, se}
	}
	for _, src := range []string{consistency.EventLogSource, "memory.events"} {
		p, err := s.Positions(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		sn.Positions[src] = p
	}
	envs, err := s.Events(ctx, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range envs {
		sn.Events = append(sn.Events, fmt.Sprintf("%s[%d]@%d %s", e.Source, e.Partition, e.Offset, e.Event.Metadata().EventID))
	}
	for _, q := range queries {
		res, err := s.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		sn.Hits = append(sn.Hits, res)
	}
	sn.IndexLen = s.IndexLen()
	return sn
}

func ptrVal(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// randomEvents is a random mix of every event type over a few
// coordinates and two namespaces.
func randomEvents(g *gen, rng *rand.Rand, n, dim int) []domain.Event {
	nss := []string{"n1", "n2"}
	pick := func() domain.Coordinate { return c(float64(rng.IntN(30)), float64(rng.IntN(2))) }
	vec := func() []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	var evs []domain.Event
	for range n {
		n := nss[rng.IntN(2)]
		switch r := rng.IntN(100); {
		case r < 45:
			st := g.store(n, pick(), fmt.Sprintf(`{"r":%d,"tag":"t%d"}`, rng.IntN(1000), rng.IntN(3)), vec())
			if rng.IntN(2) == 0 {
				st.Type = domain.Semantic
			}
			if rng.IntN(2) == 0 {
				imp := float64(rng.IntN(10))
				st.Importance, st.ImportanceNorm = &imp, imp/10
			}
			evs = append(evs, st)
		case r < 60:
			evs = append(evs, g.del(n, pick()))
		case r < 85:
			evs = append(evs, g.link(n, pick(), pick(), []string{"a", "b"}[rng.IntN(2)], float64(rng.IntN(4))))
		case r < 92:
			evs = append(evs, domain.MemoryUnlinked{EventMeta: g.meta(n), From: pick(), To: pick()})
		default:
			evs = append(evs, g.setImportance(n, pick(), float64(rng.IntN(9)), float64(rng.IntN(11))/10))
		}
	}
	return evs
}

func TestStopAndStartKeepsIdenticalState(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	s, err := embedded.Open(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	var g gen
	// Direct-mode appends and projected batches of another log, mixed.
	evs := randomEvents(&g, rng, 600, 4)
	off := int64(0)
	for i := 0; i < len(evs); {
		n := 1 + rng.IntN(40)
		batch := evs[i:min(i+n, len(evs))]
		i += n
		if rng.IntN(3) == 0 {
			var envs []projections.Envelope
			for _, e := range batch {
				envs = append(envs, projections.Envelope{Event: e, Source: "memory.events", Partition: int32(rng.IntN(2)), Offset: off})
				off++
			}
			if err := s.Apply(ctxT(t), envs); err != nil {
				t.Fatal(err)
			}
			continue
		}
		mustAppend(t, s, batch...)
	}
	var queries []vectorindex.Query
	for i := range 10 {
		queries = append(queries, vectorindex.Query{Namespace: []string{"n1", "n2"}[i%2], Model: model, TopK: 20,
			Vector: []float32{float32(rng.NormFloat64()), float32(rng.NormFloat64()), 1, 0}})
	}
	queries = append(queries, vectorindex.Query{Namespace: "n1", Model: model, TopK: 5, Vector: []float32{1, 1, 1, 1}, Filters: map[string]any{"tag": "t1"}})
	nss := []string{"n1", "n2"}
	before := takeSnapshot(t, s, nss, queries)
	if len(before.Records) == 0 || before.IndexLen == 0 {
		t.Fatalf("nothing stored: %+v", before)
	}
	checkIndex(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctxT(t), evs[:1]); !errors.Is(err, embedded.ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", err)
	}

	s2 := openStore(t, cfg)
	after := takeSnapshot(t, s2, nss, queries)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("state changed across a restart:\nbefore %+v\nafter  %+v", before, after)
	}
	checkIndex(t, s2)
	// And the log goes on where it stopped.
	tok := mustAppend(t, s2, g.store("n1", c(99), `{}`, []float32{1, 2, 3, 4}))
	if want := before.Positions[consistency.EventLogSource][0] + 1; tok.Positions[0] < want {
		t.Fatalf("token after restart = %v, want at least %d", tok, want)
	}
}

func TestDataDirIsExclusive(t *testing.T) {
	dir := t.TempDir()
	s, err := embedded.Open(ctxT(t), testConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if s2, err := embedded.Open(ctxT(t), testConfig(dir)); err == nil {
		s2.Close()
		t.Fatal("a second Open of the same data dir succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	openStore(t, testConfig(dir))
}

func TestBusyDatabaseIsUnavailable(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.BusyTimeout = 50 * time.Millisecond
	s := openStore(t, cfg)
	// Another connection holds the write lock.
	other, err := sql.Open("sqlite", dir+"/"+embedded.DBFile+"?_pragma=busy_timeout(50)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctxT(t), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var g gen
	_, err = s.Append(ctxT(t), []domain.Event{g.store(ns, c(1), `{}`, nil)})
	if !errors.Is(err, commands.ErrUnavailable) {
		t.Fatalf("Append while locked = %v, want ErrUnavailable", err)
	}
	if _, err := conn.ExecContext(ctxT(t), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, g.store(ns, c(1), `{}`, nil))
	if got, _ := s.Existing(ctxT(t), ns, []string{"1"}); !got["1"] {
		t.Fatal("append after the lock was released is missing")
	}
}

func TestConfigValidate(t *testing.T) {
	err := embedded.Config{Synchronous: "sometimes", BusyTimeout: -1, ReadConns: -1}.Validate()
	for _, want := range []string{"Dir", "Encoder", "Decoder", "Synchronous", "BusyTimeout", "ReadConns"} {
		if err == nil || !errors.Is(err, embedded.ErrInvalidConfig) || !strings.Contains(err.Error(), want) {
			t.Fatalf("Validate = %v, want a problem with %s", err, want)
		}
	}
	if err := testConfig("x").Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}

// TestLinkAndDeleteOfTargetCommute: a link and a delete of its target
// travel in different partitions, so the projector may apply them in
// either order; event times decide (tombstones), and both orders reach
// the same graph.
func TestLinkAndDeleteOfTargetCommute(t *testing.T) {
	var g gen
	a, b := c(1), c(2)
	at := func(e domain.Event, sec int) domain.Event {
		ts := t0.Add(time.Duration(sec) * time.Second)
		switch e := e.(type) {
		case domain.MemoriesLinked:
			e.OccurredAt = ts
			return e
		case domain.MemoryDeleted:
			e.OccurredAt = ts
			return e
		}
		return e
	}
	stores := []domain.Event{g.store(ns, a, `{}`, nil), g.store(ns, b, `{}`, nil)}
	for _, tc := range []struct {
		name     string
		linkTime int
		want     int // edges of a at the end
	}{
		{"link_before_the_delete_goes", 5, 0},
		{"link_after_the_delete_stays", 15, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			link := at(g.link(ns, a, b, "related", 1), tc.linkTime)
			del := at(g.del(ns, b), 10)
			for _, order := range []string{"link_first", "delete_first"} {
				s := openStore(t, testConfig(t.TempDir()))
				env := func(e domain.Event, part int32, off int64) []projections.Envelope {
					return []projections.Envelope{{Event: e, Source: "memory.events", Partition: part, Offset: off}}
				}
				for i, e := range stores {
					if err := s.Apply(ctxT(t), env(e, int32(i), 0)); err != nil {
						t.Fatal(err)
					}
				}
				batches := [][]projections.Envelope{env(link, 0, 1), env(del, 1, 1)}
				if order == "delete_first" {
					batches[0], batches[1] = batches[1], batches[0]
				}
				for _, batch := range batches {
					if err := s.Apply(ctxT(t), batch); err != nil {
						t.Fatal(err)
					}
				}
				ls, err := s.Neighbors(ctxT(t), ns, a, "", 10)
				if err != nil || len(ls) != tc.want {
					t.Fatalf("%s: edges of a = %v (%v), want %d", order, ls, err, tc.want)
				}
			}
		})
	}
}

// TestUpgradesVersion1File: a data file of schema version 1 made before
// the tombstones table existed opens, gains the table, and deletes work.
func TestUpgradesVersion1File(t *testing.T) {
	dir := t.TempDir()
	s, err := embedded.Open(ctxT(t), testConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dir+"/"+embedded.DBFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DROP TABLE tombstones; PRAGMA user_version = 1"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, testConfig(dir))
	var g gen
	mustAppend(t, s2, g.store("n1", c(1), `{}`, []float32{1, 2, 3, 4}))
	mustAppend(t, s2, g.del("n1", c(1)))
	db, err = sql.Open("sqlite", dir+"/"+embedded.DBFile+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v, n int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT count(*) FROM tombstones").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if v != 2 || n != 1 {
		t.Fatalf("user_version %d, %d tombstones", v, n)
	}
}
