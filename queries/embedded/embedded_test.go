package embedded_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/internal/embedding"
	projembedded "github.com/somafractalmemory/soma/projections/embedded"
	"github.com/somafractalmemory/soma/queries"
	"github.com/somafractalmemory/soma/queries/embedded"
)

const (
	ns    = "tenant"
	model = "test/4"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func openStore(t *testing.T) *projembedded.Store {
	t.Helper()
	bodies, err := projembedded.NewLocalBodies()
	if err != nil {
		t.Fatal(err)
	}
	s, err := projembedded.Open(ctxT(t), projembedded.Config{Dir: t.TempDir(), Encoder: bodies, Decoder: bodies})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

type gen struct{ n int }

func (g *gen) meta() domain.EventMeta {
	g.n++
	return domain.EventMeta{EventID: uuid.NewString(), Namespace: ns, OccurredAt: time.Date(2025, 6, 1, 0, 0, g.n, 0, time.UTC), Actor: "test"}
}

func (g *gen) store(c domain.Coordinate, payload string, vec []float32, typ domain.MemoryType, norm float64) domain.MemoryStored {
	return domain.MemoryStored{EventMeta: g.meta(), Coordinate: c, Payload: []byte(payload), Type: typ,
		ImportanceNorm: norm, Embedding: vec, EmbeddingModel: model}
}

func c(v ...float64) domain.Coordinate { return domain.MustCoordinate(v...) }

func keys(hits []queries.Hit) []string {
	out := []string{}
	for _, h := range hits {
		out = append(out, h.Coordinate.Key())
	}
	return out
}

func TestPorts(t *testing.T) {
	ctx := ctxT(t)
	s := openStore(t)
	rm := embedded.New(s)
	var g gen
	st1 := g.store(c(1), `{"team":"a","n":1}`, []float32{1, 0, 0, 0}, domain.Episodic, 0.5)
	st2 := g.store(c(2), `{"team":"b","n":2}`, []float32{0.9, 0.1, 0, 0}, domain.Semantic, 1)
	st3 := g.store(c(3), `{"team":"a","n":1.0}`, []float32{0, 1, 0, 0}, domain.Episodic, 1)
	link := domain.MemoriesLinked{EventMeta: g.meta(), From: c(1), To: c(2), LinkType: "related", Weight: 2}
	tok, err := s.Append(ctx, []domain.Event{st1, st2, st3, link})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("search_ranks_by_final_score", func(t *testing.T) {
		hits, err := rm.Search(ctx, queries.VectorQuery{Namespace: ns, Vector: []float32{1, 0, 0, 0}, EmbeddingModel: model, TopK: 3})
		if err != nil {
			t.Fatal(err)
		}
		if got := keys(hits); !slices.Equal(got, []string{"2", "1", "3"}) {
			t.Fatalf("hits = %v, want 2 (cosine .99 × 1) before 1 (1 × .5)", got)
		}
		if h := hits[1]; h.Cosine != 1 || h.ImportanceNorm != 0.5 || h.Score != 0.5 {
			t.Fatalf("hit of 1 = %+v", h)
		}
	})
	t.Run("search_filters_before_the_cut", func(t *testing.T) {
		hits, err := rm.Search(ctx, queries.VectorQuery{Namespace: ns, Vector: []float32{1, 0, 0, 0}, EmbeddingModel: model, TopK: 1,
			Type: domain.Episodic, Filters: map[string]any{"n": json.Number("1"), "team": "a"}})
		if err != nil || !slices.Equal(keys(hits), []string{"1"}) {
			t.Fatalf("hits = %v, %v", keys(hits), err)
		}
	})
	t.Run("search_refuses_another_model", func(t *testing.T) {
		for _, q := range []queries.VectorQuery{
			{Namespace: ns, Vector: []float32{1, 0, 0, 0}, EmbeddingModel: "other/4", TopK: 1},
			{Namespace: ns, Vector: []float32{1, 0, 0}, EmbeddingModel: model, TopK: 1},
		} {
			if _, err := rm.Search(ctx, q); !errors.Is(err, queries.ErrModelMismatch) {
				t.Fatalf("Search(%s, %d dims) = %v, want ErrModelMismatch", q.EmbeddingModel, len(q.Vector), err)
			}
		}
	})
	t.Run("search_refuses_invalid_queries", func(t *testing.T) {
		for _, q := range []queries.VectorQuery{
			{Namespace: ns, Vector: []float32{1, 0, 0, 0}, EmbeddingModel: model, TopK: 0},
			{Namespace: ns, Vector: []float32{1, 0, 0, 0}, EmbeddingModel: model, TopK: 1001},
			{Namespace: ns, Vector: []float32{0, 0, 0, 0}, EmbeddingModel: model, TopK: 1},
			{Namespace: ns, Vector: []float32{1, 0, 0, 0}, EmbeddingModel: model, TopK: 1, Type: "procedural"},
		} {
			var verrs domain.ValidationErrors
			if _, err := rm.Search(ctx, q); !errors.As(err, &verrs) || !errors.Is(err, embedded.ErrInvalidQuery) {
				t.Fatalf("Search(%+v) = %v, want validation errors", q, err)
			}
		}
	})
	t.Run("records", func(t *testing.T) {
		recs, err := rm.Records(ctx, ns, []string{"1", "3", "9"})
		if err != nil || len(recs) != 2 || recs["3"].Payload["team"] != "a" || recs["1"].LastEventID != st1.EventID {
			t.Fatalf("Records = %+v, %v", recs, err)
		}
	})
	t.Run("graph", func(t *testing.T) {
		ls, err := rm.Neighbors(ctx, ns, c(1), "", 10)
		if err != nil || len(ls) != 1 || ls[0].To.Key() != "2" || ls[0].Weight != 2 || !ls[0].CreatedAt.Equal(link.OccurredAt) {
			t.Fatalf("Neighbors = %+v, %v", ls, err)
		}
		out, err := rm.OutEdges(ctx, ns, []string{"1", "2"}, "related")
		if err != nil || len(out) != 1 || len(out["1"]) != 1 {
			t.Fatalf("OutEdges = %+v, %v", out, err)
		}
	})
	t.Run("range_counts_export", func(t *testing.T) {
		cs, err := rm.Range(ctx, ns, c(2), c(), domain.Episodic, 0)
		if err != nil || len(cs) != 1 || cs[0].Key() != "3" {
			t.Fatalf("Range = %v, %v", cs, err)
		}
		st, err := rm.Counts(ctx, ns)
		if err != nil || st != (queries.Stats{Total: 3, Episodic: 2, Semantic: 1}) {
			t.Fatalf("Counts = %+v, %v", st, err)
		}
		var got []string
		if err := rm.Export(ctx, ns, func(m domain.Memory) error { got = append(got, m.Coordinate.Key()); return nil }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []string{"1", "2", "3"}) {
			t.Fatalf("Export = %v", got)
		}
		stop := errors.New("client went away")
		if err := rm.Export(ctx, ns, func(domain.Memory) error { return stop }); !errors.Is(err, stop) {
			t.Fatalf("Export with a failing fn = %v", err)
		}
	})
	t.Run("history", func(t *testing.T) {
		h, err := rm.History(ctx, ns, c(1), 10)
		if err != nil || len(h) != 2 {
			t.Fatalf("History = %+v, %v", h, err)
		}
		if h[0].EventType != domain.EventMemoryStored || h[0].Event["embedding_dim"] != 4 || h[0].Event["memory_type"] != "episodic" ||
			h[0].Source != consistency.EventLogSource || h[0].Offset != 1 || h[0].OccurredAt != "2025-06-01T00:00:01Z" {
			t.Fatalf("first entry = %+v", h[0])
		}
		if h[1].EventType != domain.EventMemoriesLinked || h[1].Event["link_type"] != "related" || h[1].Event["actor"] != "test" {
			t.Fatalf("second entry = %+v", h[1])
		}
		if _, err := json.Marshal(h); err != nil {
			t.Fatalf("history does not encode: %v", err)
		}
	})
	t.Run("positions", func(t *testing.T) {
		pos, err := rm.Positions(ctx, consistency.EventLogSource)
		if err != nil || pos[0] != tok.Positions[0] {
			t.Fatalf("Positions = %v, %v; token %v", pos, err, tok)
		}
	})
}

// TestServeInOneProcess wires the write and read sides on one embedded
// store, as `soma serve` does with nothing configured: the store is the
// event sink and directory of the commands, and every read model of the
// queries.
func TestServeInOneProcess(t *testing.T) {
	ctx := ctxT(t)
	s := openStore(t)
	rm := embedded.New(s)
	emb := embedding.NewHashing(64)
	cmds := commands.NewApplication(commands.Deps{Sink: s, Directory: s, Embedder: emb})
	waiter, err := queries.NewWaiter(queries.WaiterConfig{
		Readers: map[string]queries.PositionReader{"embedded": rm},
		Roles: map[queries.Role][]string{
			queries.RoleVectors: {"embedded"}, queries.RoleRecords: {"embedded"}, queries.RoleGraph: {"embedded"},
		},
		Wake:    s.Advanced(),
		Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	qs := queries.NewApplication(queries.Deps{
		Embedder: emb, Vectors: rm, Records: []queries.RecordStore{rm}, Graph: rm, Ranges: rm,
		Counters: []queries.Counter{rm}, Exporter: rm, History: rm, Consistency: waiter,
	})
	caller := commands.Caller{Namespace: ns, Actor: "test"}
	items := []commands.StoreItem{
		{Coordinate: c(1), Payload: map[string]any{"text": "the cat sat on the mat"}},
		{Coordinate: c(2), Payload: map[string]any{"text": "quantum chromodynamics lecture notes"}, Type: "semantic"},
		{Coordinate: c(3), Payload: map[string]any{"text": "a cat chased the dog"}},
	}
	acc, err := cmds.StoreBulk.Handle(ctx, commands.StoreBulk{Caller: caller, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]domain.Coordinate{{c(1), c(2)}, {c(2), c(3)}} {
		if acc, err = cmds.Link.Handle(ctx, commands.LinkMemories{Caller: caller, LinkMemories: domain.LinkMemories{From: l[0], To: l[1], Weight: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cmds.Link.Handle(ctx, commands.LinkMemories{Caller: caller, LinkMemories: domain.LinkMemories{From: c(9), To: c(1), Weight: 1}}); !errors.Is(err, domain.ErrMemoryNotFound) {
		t.Fatalf("link from a coordinate without memory = %v, want ErrMemoryNotFound", err)
	}
	qc := queries.Caller{Namespace: ns, Token: acc.Token}

	matches, err := qs.Recall.Handle(ctx, queries.Recall{Caller: qc, Query: "cat", TopK: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range matches {
		got = append(got, m.Memory.Coordinate.Key())
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"1", "3"}) {
		t.Fatalf("recall of cat = %v, want the two cat memories", got)
	}
	path, err := qs.ShortestPath.Handle(ctx, queries.ShortestPath{Caller: qc, From: c(1), To: c(3)})
	if err != nil || len(path) != 3 || path[1].Key() != "2" {
		t.Fatalf("shortest path = %v, %v", path, err)
	}
	stats, err := qs.Stats.Handle(ctx, queries.GetStats{Caller: qc})
	if err != nil || stats != (queries.Stats{Total: 3, Episodic: 2, Semantic: 1}) {
		t.Fatalf("stats = %+v, %v", stats, err)
	}

	del, err := cmds.Delete.Handle(ctx, commands.DeleteMemory{Caller: caller, Coordinate: c(1)})
	if err != nil || del.Existed != 1 {
		t.Fatalf("delete = %+v, %v", del, err)
	}
	matches, err = qs.Recall.Handle(ctx, queries.Recall{Caller: queries.Caller{Namespace: ns, Token: del.Token}, Query: "cat", TopK: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range matches {
		if m.Memory.Coordinate.Key() == "1" {
			t.Fatal("a deleted memory came back in recall")
		}
	}
}
