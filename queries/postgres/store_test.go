package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/queries"
	"github.com/somafractalmemory/soma/queries/postgres"
)

func TestRecords(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	imp := 7.5
	a := f.stored("ns", coord(1, 2), `{"text":"a","n":1,"x":1.50,"nested":{"k":[1,"two",null]}}`)
	a.Importance, a.ImportanceNorm, a.Type = &imp, 0.8, domain.Semantic
	b := f.stored("ns", coord(9), `{"text":"b"}`)
	gone := f.stored("ns", coord(3), `{"text":"gone"}`)
	other := f.stored("other", coord(1, 2), `{"text":"other tenant"}`)
	f.apply(a, b, gone, other, domain.MemoryDeleted{EventMeta: f.meta("ns"), Coordinate: coord(3)})
	f.apply(domain.MemoryImportanceSet{EventMeta: f.meta("ns"), Coordinate: coord(9), Importance: 2, ImportanceNorm: 0.25})

	got, err := f.store.Records(ctx, "ns", []string{"1,2", "9", "3", "404", "9"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got keys %v, want 1,2 and 9", slices.Collect(maps.Keys(got)))
	}
	for _, k := range []string{"1,2", "9"} {
		want, ok, err := f.proj.Get(ctx, "ns", mustParse(t, k))
		if err != nil || !ok {
			t.Fatalf("projection Get %s: %v %v", k, ok, err)
		}
		if !reflect.DeepEqual(got[k], want) {
			t.Errorf("record %s =\n%+v\nwant (projection Get)\n%+v", k, got[k], want)
		}
	}
	m := got["1,2"]
	if m.Type != domain.Semantic || *m.Importance != 7.5 || m.ImportanceNorm != 0.8 || m.Payload["x"] != json.Number("1.50") ||
		m.Payload["n"] != json.Number("1") || m.Version != 1 || m.LastEventID != a.EventID || !m.StoredAt.Equal(a.OccurredAt) {
		t.Errorf("record 1,2 = %+v", m)
	}
	if m := got["9"]; m.ImportanceNorm != 0.25 || m.Payload["importance"] != json.Number("2") || m.Version != 2 {
		t.Errorf("record 9 after importance change = %+v", m)
	}

	t.Run("no_keys_no_query", func(t *testing.T) {
		got, err := f.store.Records(ctx, "ns", nil)
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("Records(nil) = %v, %v", got, err)
		}
	})
	t.Run("namespaces_are_isolated", func(t *testing.T) {
		got, err := f.store.Records(ctx, "other", []string{"1,2", "9"})
		if err != nil || len(got) != 1 || got["1,2"].Payload["text"] != "other tenant" {
			t.Fatalf("Records(other) = %v, %v", got, err)
		}
	})
}

func TestGraph(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a, b, c, d := coord(1), coord(2), coord(3), coord(4)
	f.apply(f.stored("ns", a, `{}`), f.stored("ns", b, `{}`), f.stored("ns", c, `{}`))
	f.apply(
		f.link("ns", a, c, "related", 1),
		f.link("ns", a, b, "cause", 2.5),
		f.link("ns", a, d, "related", 0), // target without memory
		f.link("ns", b, a, "related", 1),
		f.link("ns", a, a, "self", 1),
		f.link("other", a, b, "related", 1),
	)
	f.apply(f.link("ns", a, c, "cause", 3)) // re-link keeps the insertion place

	t.Run("neighbors_in_insertion_order_type_then_limit", func(t *testing.T) {
		cases := []struct {
			name, typ string
			limit     int
			want      []string
		}{
			{"all", "", 10, []string{"3", "2", "4", "1"}},
			{"limit_cuts_after_order", "", 2, []string{"3", "2"}},
			{"type_filter_then_limit", "cause", 1, []string{"3"}},
			{"type_filter", "related", 10, []string{"4"}},
			{"limit_0_is_empty", "", 0, nil},
			{"negative_limit_is_empty", "", -1, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				links, err := f.store.Neighbors(ctx, "ns", a, tc.typ, tc.limit)
				if err != nil {
					t.Fatal(err)
				}
				if links == nil {
					t.Fatal("nil list, want empty")
				}
				var got []string
				for _, l := range links {
					got = append(got, l.To.Key())
				}
				if !slices.Equal(got, tc.want) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			})
		}
		links, _ := f.store.Neighbors(ctx, "ns", a, "", 1)
		if l := links[0]; !l.From.Equal(a) || l.Type != "cause" || l.Weight != 3 || l.CreatedAt.IsZero() {
			t.Fatalf("re-linked edge = %+v", l)
		}
		if links, err := f.store.Neighbors(ctx, "ns", coord(42), "", 10); err != nil || len(links) != 0 {
			t.Fatalf("unknown coordinate: %v, %v", links, err)
		}
	})

	t.Run("out_edges_of_many_keys_in_one_query", func(t *testing.T) {
		got, err := f.store.OutEdges(ctx, "ns", []string{"1", "2", "3", "404"}, "")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]string{"1": {"3", "2", "4", "1"}, "2": {"1"}}
		if len(got) != len(want) {
			t.Fatalf("got sources %v, want %v", slices.Collect(maps.Keys(got)), want)
		}
		for k, tos := range want {
			var ks []string
			for _, l := range got[k] {
				if l.From.Key() != k {
					t.Fatalf("edge %+v listed under %s", l, k)
				}
				ks = append(ks, l.To.Key())
			}
			if !slices.Equal(ks, tos) {
				t.Errorf("edges of %s = %v, want %v (insertion order)", k, ks, tos)
			}
		}
		// The same edges as Neighbors without a limit.
		nb, _ := f.store.Neighbors(ctx, "ns", a, "", 100)
		if !reflect.DeepEqual(nb, got["1"]) {
			t.Errorf("OutEdges(1) = %+v\nNeighbors(1) = %+v", got["1"], nb)
		}
		typed, err := f.store.OutEdges(ctx, "ns", []string{"1", "2"}, "cause")
		if err != nil || len(typed) != 1 || len(typed["1"]) != 2 || typed["1"][0].To.Key() != "3" || typed["1"][1].To.Key() != "2" {
			t.Fatalf("OutEdges(cause) = %+v, %v", typed, err)
		}
		if empty, err := f.store.OutEdges(ctx, "ns", nil, ""); err != nil || empty == nil || len(empty) != 0 {
			t.Fatalf("OutEdges(nil) = %v, %v", empty, err)
		}
	})

	t.Run("deleting_a_memory_removes_its_edges", func(t *testing.T) {
		f.apply(domain.MemoryDeleted{EventMeta: f.meta("ns"), Coordinate: b})
		got, err := f.store.OutEdges(ctx, "ns", []string{"1", "2"}, "")
		if err != nil {
			t.Fatal(err)
		}
		var tos []string
		for _, l := range got["1"] {
			tos = append(tos, l.To.Key())
		}
		if !slices.Equal(tos, []string{"3", "4", "1"}) || len(got["2"]) != 0 {
			t.Fatalf("after deleting 2: %+v", got)
		}
	})
}

func TestRange(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	coords := []domain.Coordinate{
		coord(), coord(1), coord(1, 5), coord(1, 5, 9), coord(2, 0), coord(2, 10), coord(-3, 1),
		coord(10), coord(9, 9), coord(1.5), coord(0, -1), coord(1e21), coord(-0.5, 2, 2),
	}
	var evs []domain.Event
	for i, c := range coords {
		e := f.stored("ns", c, `{}`)
		if i%3 == 0 {
			e.Type = domain.Semantic
		}
		evs = append(evs, e)
	}
	evs = append(evs, f.stored("other", coord(1, 5), `{}`))
	f.apply(evs...)

	// The reference: domain.Coordinate.InRange over every memory, sorted by
	// key bytewise.
	reference := func(lo, hi domain.Coordinate, typ domain.MemoryType, limit int) []string {
		var out []string
		for i, c := range coords {
			isSem := i%3 == 0
			if typ == domain.Semantic && !isSem || typ == domain.Episodic && isSem {
				continue
			}
			if c.InRange(lo, hi) {
				out = append(out, c.Key())
			}
		}
		sort.Strings(out)
		if limit > 0 && len(out) > limit {
			out = out[:limit]
		}
		return out
	}
	check := func(t *testing.T, lo, hi domain.Coordinate, typ domain.MemoryType, limit int) {
		t.Helper()
		got, err := f.store.Range(ctx, "ns", lo, hi, typ, limit)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil {
			t.Fatal("nil list, want empty")
		}
		if want := reference(lo, hi, typ, limit); !slices.Equal(keysOf(got), want) {
			t.Fatalf("Range(%v, %v, %q, %d) = %v, want %v", lo, hi, typ, limit, keysOf(got), want)
		}
	}
	cases := []struct {
		name   string
		lo, hi domain.Coordinate
		typ    domain.MemoryType
		limit  int
	}{
		{"empty_bounds_match_everything", coord(), coord(), "", 0},
		{"inclusive_on_both_ends", coord(1, 5), coord(2, 10), "", 0},
		{"shorter_memories_compare_on_their_dimensions", coord(1, 6), coord(1, 6), "", 0},
		{"shorter_bounds_constrain_their_dimensions", coord(1), coord(2), "", 0},
		{"only_a_lower_bound", coord(2), coord(), "", 0},
		{"only_an_upper_bound", coord(), coord(0, 0), "", 0},
		{"negative_values", coord(-3, 0), coord(0, 5), "", 0},
		{"bounds_longer_than_memories", coord(1, 5, 9, 0), coord(1, 5, 9, 0), "", 0},
		{"type_filter", coord(), coord(), domain.Semantic, 0},
		{"type_filter_episodic", coord(1), coord(9), domain.Episodic, 0},
		{"limit", coord(), coord(), "", 3},
		{"empty_box", coord(5), coord(4), "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { check(t, tc.lo, tc.hi, tc.typ, tc.limit) })
	}
	t.Run("matches_InRange_on_random_boxes", func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		randCoord := func() domain.Coordinate {
			vals := make([]float64, r.IntN(4))
			for i := range vals {
				vals[i] = float64(r.IntN(14)-4) / 2
			}
			return domain.MustCoordinate(vals...)
		}
		for range 200 {
			check(t, randCoord(), randCoord(), []domain.MemoryType{"", domain.Episodic, domain.Semantic}[r.IntN(3)], r.IntN(4))
		}
	})
	t.Run("namespaces_are_isolated", func(t *testing.T) {
		got, err := f.store.Range(ctx, "other", coord(), coord(), "", 0)
		if err != nil || !slices.Equal(keysOf(got), []string{"1,5"}) {
			t.Fatalf("Range(other) = %v, %v", keysOf(got), err)
		}
	})
}

func TestOrderIsBytewiseWhateverTheCollation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	// A collation that ignores punctuation, as glibc's en_US does.
	coll := pgx.Identifier{f.schema, "shifted"}.Sanitize()
	for _, sql := range []string{
		"CREATE COLLATION " + coll + " (provider = icu, locale = 'und-u-ka-shifted')",
		"ALTER TABLE " + pgx.Identifier{f.schema, "records"}.Sanitize() + " ALTER COLUMN coord_key TYPE text COLLATE " + coll,
	} {
		if _, err := f.pool.Exec(ctx, sql); err != nil {
			t.Skipf("no ICU collation to test with: %v", err)
		}
	}
	var evs []domain.Event
	cs := []domain.Coordinate{coord(-1), coord(1), coord(0), coord(10), coord(9), coord(1, 2), coord(1.5), coord(-2), coord(2), coord(-0.5)}
	for _, c := range cs {
		evs = append(evs, f.stored("ns", c, `{}`))
	}
	f.apply(evs...)
	want := keysOf(cs)
	sort.Strings(want)
	got, err := f.store.Range(ctx, "ns", coord(), coord(), "", 0)
	if err != nil || !slices.Equal(keysOf(got), want) {
		t.Fatalf("Range = %v, %v; want %v", keysOf(got), err, want)
	}
	var exported []string
	if err := f.store.Export(ctx, "ns", func(m domain.Memory) error {
		exported = append(exported, m.Coordinate.Key())
		return nil
	}); err != nil || !slices.Equal(exported, want) {
		t.Fatalf("Export = %v, %v; want %v", exported, err, want)
	}
}

func TestCountsAndPositions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	sem := f.stored("ns", coord(2), `{}`)
	sem.Type = domain.Semantic
	f.apply(f.stored("ns", coord(1), `{}`), sem, f.stored("ns", coord(3), `{}`), f.stored("other", coord(1), `{}`))
	f.apply(domain.MemoryDeleted{EventMeta: f.meta("ns"), Coordinate: coord(3)})

	got, err := f.store.Counts(ctx, "ns")
	if want := (queries.Stats{Total: 2, Episodic: 1, Semantic: 1}); err != nil || got != want {
		t.Fatalf("Counts = %+v, %v; want %+v", got, err, want)
	}
	if got, err := f.store.Counts(ctx, "nobody"); err != nil || got != (queries.Stats{}) {
		t.Fatalf("Counts(unknown) = %+v, %v", got, err)
	}
	pos, err := f.store.Positions(ctx, topic)
	if err != nil || !reflect.DeepEqual(pos, map[int32]int64{0: 4}) {
		t.Fatalf("Positions = %v, %v; want {0: 4}", pos, err)
	}
	if pos, err := f.store.Positions(ctx, "elsewhere"); err != nil || len(pos) != 0 {
		t.Fatalf("Positions(elsewhere) = %v, %v", pos, err)
	}
}

func TestExport(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	const count = 1500
	var evs []domain.Event
	var want []string
	for i := range count {
		c := coord(float64(i%37), float64(i))
		evs = append(evs, f.stored("ns", c, fmt.Sprintf(`{"i":%d}`, i)))
		want = append(want, c.Key())
	}
	evs = append(evs, f.stored("other", coord(0), `{}`))
	f.apply(evs...)
	sort.Strings(want)

	t.Run("streams_every_memory_by_key", func(t *testing.T) {
		var got []string
		err := f.store.Export(ctx, "ns", func(m domain.Memory) error {
			if m.Namespace != "ns" || m.Payload["i"] == nil || m.Version != 1 {
				return fmt.Errorf("memory %+v", m)
			}
			got = append(got, m.Coordinate.Key())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("exported %d memories, want %d in key order", len(got), len(want))
		}
	})
	t.Run("an_error_of_fn_stops_the_walk", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := f.store.Export(ctx, "ns", func(domain.Memory) error {
			n++
			if n == 10 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 10 {
			t.Fatalf("err = %v after %d calls, want stop after 10", err, n)
		}
		// The connection went back to the pool in a usable state.
		if _, err := f.store.Counts(ctx, "ns"); err != nil {
			t.Fatalf("after a stopped export: %v", err)
		}
	})
	t.Run("unknown_namespace_exports_nothing", func(t *testing.T) {
		err := f.store.Export(ctx, "nobody", func(domain.Memory) error { return errors.New("called") })
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestExportWithLinksOnOneConnection: the export use case with links over
// a pool of one connection (the walk holds it while streaming) finishes and
// emits every edge.
func TestExportWithLinksOnOneConnection(t *testing.T) {
	f := newFixture(t, func(c *pgxpool.Config) { c.MaxConns = 1 })
	const count = 1200
	var evs []domain.Event
	for i := range count {
		evs = append(evs, f.stored("ns", coord(float64(i)), `{}`))
	}
	for i := 0; i < count; i += 2 {
		evs = append(evs, f.link("ns", coord(float64(i)), coord(float64(i+1)), "next", 1))
	}
	f.apply(evs...)
	app := queries.NewApplication(queries.Deps{Exporter: f.store, Graph: f.store})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mems, links := 0, 0
	err := app.Export.Handle(ctx, queries.Export{Caller: queries.Caller{Namespace: "ns"}, Links: func(domain.Link) error {
		links++
		return nil
	}}, func(domain.Memory) error {
		mems++
		return nil
	})
	if err != nil || mems != count || links != count/2 {
		t.Fatalf("exported %d memories and %d links (%v), want %d and %d", mems, links, err, count, count/2)
	}
}

func TestUnreachableServerIsUnavailable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	cfg, err := pgxpool.ParseConfig("postgres://nobody@" + addr + "/nothing?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg) // connects lazily
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := postgres.New(pool, "soma")
	checks := map[string]error{}
	_, checks["Records"] = s.Records(ctx, "ns", []string{"1"})
	_, checks["Counts"] = s.Counts(ctx, "ns")
	_, checks["Range"] = s.Range(ctx, "ns", coord(), coord(), "", 0)
	_, checks["Neighbors"] = s.Neighbors(ctx, "ns", coord(1), "", 1)
	_, checks["Positions"] = s.Positions(ctx, topic)
	checks["Export"] = s.Export(ctx, "ns", func(domain.Memory) error { return nil })
	_, checks["ListenPositions"] = postgres.ListenPositions(ctx, pool)
	for name, err := range checks {
		if !errors.Is(err, queries.ErrUnavailable) {
			t.Errorf("%s: err = %v, want ErrUnavailable", name, err)
		}
	}
}

func TestNewRejectsInvalidSchema(t *testing.T) {
	s := postgres.New(nil, "Bad-Schema")
	if _, err := s.Counts(context.Background(), "ns"); err == nil {
		t.Fatal("Counts on an invalid store succeeded")
	}
	h := postgres.NewHistory(nil, "soma", nil)
	if _, err := h.History(context.Background(), "ns", coord(1), 1); err == nil {
		t.Fatal("History without pool or decoder succeeded")
	}
}

func mustParse(t *testing.T, key string) domain.Coordinate {
	t.Helper()
	c, err := domain.ParseCoordinate(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
