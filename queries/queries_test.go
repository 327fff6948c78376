package queries_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/embedding"
	"github.com/somafractalmemory/soma/queries"
)

const ns = "team-a"

type fixture struct {
	app *queries.Application
	st  *store
	emb *vecEmbedder
	now time.Time
}

func newFixture(t *testing.T, mutate func(*queries.Deps)) fixture {
	t.Helper()
	st := newStore()
	emb := &vecEmbedder{vecs: map[string][]float32{}}
	now := time.Unix(1_700_000_000, 0)
	d := queries.Deps{
		Embedder: emb, Vectors: st, Records: []queries.RecordStore{st}, Graph: st, Ranges: st,
		Counters: []queries.Counter{st}, Exporter: st, History: st,
		Now: func() time.Time { return now },
	}
	if mutate != nil {
		mutate(&d)
	}
	return fixture{app: queries.NewApplication(d), st: st, emb: emb, now: now}
}

func caller() queries.Caller { return queries.Caller{Namespace: ns} }

func keysOf(ms []queries.Match) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Coordinate.Key()
	}
	return out
}

func wantValidation(t *testing.T, err error, field string) {
	t.Helper()
	var ve domain.ValidationErrors
	if !errors.As(err, &ve) {
		t.Fatalf("want validation error on %s, got %v", field, err)
	}
	for _, e := range ve {
		if e.Field == field {
			return
		}
	}
	t.Fatalf("want validation error on %s, got %v", field, ve)
}

// seedRecall stores memories whose cosine with the query vector [1,0,0]
// is known: a 1.0, b 0.8, c 0.6, d -1 (score 0), e importance 0 (score 0).
func seedRecall(f fixture) {
	f.st.put(ns, coord(1), domain.Episodic, 1, []float32{1, 0, 0}, map[string]any{"team": "x", "n": json.Number("1.0")})
	f.st.put(ns, coord(2), domain.Semantic, 1, []float32{0.8, 0.6, 0}, map[string]any{"team": "y", "n": json.Number("2")})
	f.st.put(ns, coord(3), domain.Episodic, 1, []float32{0.6, 0.8, 0}, map[string]any{"team": "y", "flag": true})
	f.st.put(ns, coord(4), domain.Episodic, 1, []float32{-1, 0, 0}, map[string]any{"team": "z"})
	f.st.put(ns, coord(5), domain.Semantic, 0, []float32{1, 0, 0}, map[string]any{"team": "z"})
	f.st.put("other", coord(9), domain.Episodic, 1, []float32{1, 0, 0}, nil)
}

func TestRecall(t *testing.T) {
	cases := []struct {
		name    string
		q       queries.Recall
		want    []string
		wantErr string // validation field
	}{
		{"orders_by_score_and_keeps_zero_scores_last", queries.Recall{TopK: 10}, []string{"1", "2", "3", "4", "5"}, ""},
		{"cuts_at_top_k", queries.Recall{TopK: 2}, []string{"1", "2"}, ""},
		{"applies_filters_before_top_k", queries.Recall{TopK: 1, Filters: map[string]any{"team": "y"}}, []string{"2"}, ""},
		{"all_filters_must_match", queries.Recall{TopK: 5, Filters: map[string]any{"team": "y", "flag": true}}, []string{"3"}, ""},
		{"compares_numbers_numerically", queries.Recall{TopK: 5, Filters: map[string]any{"n": json.Number("1")}}, []string{"1"}, ""},
		{"compares_go_numbers_numerically", queries.Recall{TopK: 5, Filters: map[string]any{"n": 2}}, []string{"2"}, ""},
		{"filter_on_missing_key_matches_nothing", queries.Recall{TopK: 5, Filters: map[string]any{"nope": "x"}}, []string{}, ""},
		{"semantic_type_filters", queries.Recall{TopK: 5, Type: "semantic"}, []string{"2", "5"}, ""},
		{"episodic_type_filters", queries.Recall{TopK: 5, Type: "episodic"}, []string{"1", "3", "4"}, ""},
		{"empty_type_is_no_filter", queries.Recall{TopK: 5, Type: ""}, []string{"1", "2", "3", "4", "5"}, ""},
		{"rejects_unknown_type", queries.Recall{TopK: 5, Type: "procedural"}, nil, "type"},
		{"rejects_top_k_zero", queries.Recall{TopK: 0}, nil, "top_k"},
		{"rejects_top_k_over_1000", queries.Recall{TopK: 1001}, nil, "top_k"},
		{"accepts_top_k_1000", queries.Recall{TopK: 1000}, []string{"1", "2", "3", "4", "5"}, ""},
		{"rejects_object_filter_value", queries.Recall{TopK: 5, Filters: map[string]any{"team": map[string]any{"$ne": "x"}}}, nil, "filters.team"},
		{"rejects_array_filter_value", queries.Recall{TopK: 5, Filters: map[string]any{"team": []any{"x"}}}, nil, "filters.team"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			seedRecall(f)
			tc.q.Caller = caller()
			tc.q.Query = "anything"
			got, err := f.app.Recall.Handle(context.Background(), tc.q)
			if tc.wantErr != "" {
				wantValidation(t, err, tc.wantErr)
				if f.st.searchCalls != 0 {
					t.Fatal("an invalid recall reached the index")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k := keysOf(got); !reflect.DeepEqual(k, tc.want) {
				t.Fatalf("got %v, want %v", k, tc.want)
			}
		})
	}
}

func TestRecallScoresAndRecords(t *testing.T) {
	f := newFixture(t, nil)
	seedRecall(f)
	got, err := f.app.RecallWithScores.Handle(context.Background(), queries.RecallWithScores{Recall: queries.Recall{Caller: caller(), Query: "q", TopK: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if m := got[1]; m.Cosine < 0.79 || m.Cosine > 0.81 || m.ImportanceNorm != 1 || m.Score != max(0, m.Cosine)*m.ImportanceNorm {
		t.Fatalf("score parts of 2: %+v", m.Hit)
	}
	if m := got[3]; m.Cosine != -1 || m.Score != 0 {
		t.Fatalf("a negative cosine scores 0: %+v", m.Hit)
	}
	rec := got[0].Memory.Record()
	if rec["team"] != "x" || rec["memory_type"] != "episodic" || !reflect.DeepEqual(rec["coordinate"], []float64{1}) {
		t.Fatalf("record %v", rec)
	}
}

func TestRecallHydration(t *testing.T) {
	t.Run("drops_hits_whose_record_is_gone", func(t *testing.T) {
		f := newFixture(t, nil)
		seedRecall(f)
		f.st.dropRecord(ns, coord(2))
		got, err := f.app.Recall.Handle(context.Background(), queries.Recall{Caller: caller(), Query: "q", TopK: 3})
		if err != nil {
			t.Fatal(err)
		}
		if k := keysOf(got); !reflect.DeepEqual(k, []string{"1", "3"}) {
			t.Fatalf("got %v", k)
		}
	})
	t.Run("asks_the_next_store_for_misses", func(t *testing.T) {
		hot := newStore()
		f := newFixture(t, func(d *queries.Deps) { d.Records = []queries.RecordStore{hot, d.Records[0]} })
		seedRecall(f)
		hot.put(ns, coord(1), domain.Episodic, 1, nil, map[string]any{"from": "hot"})
		got, err := f.app.Recall.Handle(context.Background(), queries.Recall{Caller: caller(), Query: "q", TopK: 2})
		if err != nil {
			t.Fatal(err)
		}
		if got[0].Memory.Payload["from"] != "hot" || got[1].Memory.Payload["team"] != "y" {
			t.Fatalf("got %v / %v", got[0].Memory.Payload, got[1].Memory.Payload)
		}
	})
	t.Run("falls_back_when_first_store_fails", func(t *testing.T) {
		hot := newStore()
		hot.recordsErr = errDown
		f := newFixture(t, func(d *queries.Deps) { d.Records = []queries.RecordStore{hot, d.Records[0]} })
		seedRecall(f)
		got, err := f.app.Recall.Handle(context.Background(), queries.Recall{Caller: caller(), Query: "q", TopK: 2})
		if err != nil || len(got) != 2 {
			t.Fatalf("%v %v", keysOf(got), err)
		}
	})
	t.Run("fails_when_last_store_fails", func(t *testing.T) {
		f := newFixture(t, nil)
		seedRecall(f)
		f.st.recordsErr = fmt.Errorf("%w: %w", queries.ErrUnavailable, errDown)
		_, err := f.app.Recall.Handle(context.Background(), queries.Recall{Caller: caller(), Query: "q", TopK: 2})
		if !errors.Is(err, queries.ErrUnavailable) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestRecallErrors(t *testing.T) {
	t.Run("refuses_index_of_another_model", func(t *testing.T) {
		f := newFixture(t, nil)
		f.st.model = "hash-v1/384"
		_, err := f.app.Recall.Handle(context.Background(), queries.Recall{Caller: caller(), Query: "q", TopK: 1})
		if !errors.Is(err, queries.ErrModelMismatch) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("embedder_outage_is_unavailable", func(t *testing.T) {
		f := newFixture(t, nil)
		f.emb.err = fmt.Errorf("dial: %w", embedding.ErrUnavailable)
		_, err := f.app.Recall.Handle(context.Background(), queries.Recall{Caller: caller(), Query: "q", TopK: 1})
		if !errors.Is(err, queries.ErrUnavailable) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("embedder_rejection_keeps_its_class", func(t *testing.T) {
		f := newFixture(t, nil)
		f.emb.err = fmt.Errorf("401: %w", embedding.ErrRejected)
		_, err := f.app.Recall.Handle(context.Background(), queries.Recall{Caller: caller(), Query: "q", TopK: 1})
		if !errors.Is(err, embedding.ErrRejected) || errors.Is(err, queries.ErrUnavailable) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("missing_index_is_not_configured", func(t *testing.T) {
		f := newFixture(t, func(d *queries.Deps) { d.Vectors = nil })
		_, err := f.app.Recall.Handle(context.Background(), queries.Recall{Caller: caller(), Query: "q", TopK: 1})
		if !errors.Is(err, queries.ErrNotConfigured) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestRecallBatch(t *testing.T) {
	f := newFixture(t, nil)
	seedRecall(f)
	f.emb.vecs["toward 3"] = []float32{0.6, 0.8, 0}
	got, err := f.app.RecallBatch.Handle(context.Background(), queries.RecallBatch{Caller: caller(), Queries: []string{"toward 3", "toward 1", "toward 3"}, TopK: 1})
	if err != nil {
		t.Fatal(err)
	}
	var keys [][]string
	for _, b := range got {
		keys = append(keys, keysOf(b))
	}
	if !reflect.DeepEqual(keys, [][]string{{"3"}, {"1"}, {"3"}}) {
		t.Fatalf("batches %v", keys)
	}
	if len(f.emb.calls) != 1 || len(f.emb.calls[0]) != 3 {
		t.Fatalf("want one embed call with every query, got %v", f.emb.calls)
	}
	t.Run("empty_batch", func(t *testing.T) {
		got, err := f.app.RecallBatch.Handle(context.Background(), queries.RecallBatch{Caller: caller(), TopK: 1})
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("%v %v", got, err)
		}
	})
	t.Run("rejects_too_many_queries", func(t *testing.T) {
		_, err := f.app.RecallBatch.Handle(context.Background(), queries.RecallBatch{Caller: caller(), Queries: make([]string, queries.MaxBatchQueries+1), TopK: 1})
		wantValidation(t, err, "queries")
	})
	t.Run("filters_apply_to_every_query", func(t *testing.T) {
		got, err := f.app.RecallBatch.Handle(context.Background(), queries.RecallBatch{Caller: caller(), Queries: []string{"a", "b"}, TopK: 1, Filters: map[string]any{"team": "z"}, Type: "semantic"})
		if err != nil || keysOf(got[0])[0] != "5" || keysOf(got[1])[0] != "5" {
			t.Fatalf("%v %v", got, err)
		}
	})
}

func TestContextQueryText(t *testing.T) {
	got := queries.ContextQueryText("where", map[string]any{
		"b": json.Number("1.5"), "a": "café \"x\"\n", "c": []any{true, nil, map[string]any{"z": false, "y": "😀"}},
	})
	want := `where [CTX] {"a": "caf\u00e9 \"x\"\n", "b": 1.5, "c": [true, null, {"y": "\ud83d\ude00", "z": false}]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := queries.ContextQueryText("q", nil); got != "q [CTX] {}" {
		t.Fatalf("nil context: %q", got)
	}
}

func TestRecallWithContext(t *testing.T) {
	f := newFixture(t, nil)
	now := float64(f.now.Unix())
	// Similarity order is 1, 2, 3, 4, 5, 6; the re-ranking key decides.
	f.st.put(ns, coord(1), domain.Semantic, 1, []float32{1, 0, 0}, map[string]any{})                                                  // key 0
	f.st.put(ns, coord(2), domain.Episodic, 1, []float32{0.9, 0.1, 0}, map[string]any{"timestamp": json.Number(fmt.Sprint(now - 9))}) // 0.1
	f.st.put(ns, coord(3), domain.Episodic, 1, []float32{0.8, 0.2, 0}, map[string]any{"timestamp": now})                              // 1
	f.st.put(ns, coord(4), domain.Semantic, 1, []float32{0.7, 0.3, 0}, map[string]any{"access_count": json.Number("3")})              // 0.3
	f.st.put(ns, coord(5), domain.Semantic, 1, []float32{0.6, 0.4, 0}, map[string]any{"timestamp": "yesterday"})                      // 0
	f.st.put(ns, coord(6), domain.Episodic, 1, []float32{0.5, 0.5, 0}, map[string]any{"timestamp": now + 100})                        // future: 1
	got, err := f.app.RecallWithContext.Handle(context.Background(), queries.RecallWithContext{
		Caller: caller(), Query: "plan", Context: map[string]any{"goal": "ship"}, TopK: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	if k := keysOf(got); !reflect.DeepEqual(k, []string{"3", "6", "4", "2", "1", "5"}) {
		t.Fatalf("order %v", k)
	}
	if text := f.emb.calls[0][0]; text != `plan [CTX] {"goal": "ship"}` {
		t.Fatalf("embedded %q", text)
	}
	t.Run("top_k_applies_before_reranking", func(t *testing.T) {
		got, err := f.app.RecallWithContext.Handle(context.Background(), queries.RecallWithContext{Caller: caller(), Query: "plan", TopK: 2})
		if err != nil || !reflect.DeepEqual(keysOf(got), []string{"2", "1"}) {
			t.Fatalf("%v %v", keysOf(got), err)
		}
	})
}

// seedGraph: a→b→c→d costs 3, a→d costs 10 (type "x"), a→e "y", d→a
// absent (directed), b→b self-loop.
func seedGraph(f fixture) {
	a, b, c, d, e := coord(1), coord(2), coord(3), coord(4), coord(5)
	for _, co := range []domain.Coordinate{a, b, c, d, e} {
		f.st.put(ns, co, domain.Episodic, 1, nil, nil)
	}
	f.st.link(ns, a, d, "x", 10)
	f.st.link(ns, a, b, "related", 1)
	f.st.link(ns, b, c, "related", 1)
	f.st.link(ns, c, d, "related", 1)
	f.st.link(ns, a, e, "y", 0)
	f.st.link(ns, b, b, "related", 0)
}

func pathKeys(p []domain.Coordinate) []string {
	out := make([]string, len(p))
	for i, c := range p {
		out[i] = c.Key()
	}
	return out
}

func TestShortestPath(t *testing.T) {
	cases := []struct {
		name     string
		from, to domain.Coordinate
		linkType string
		want     []string
	}{
		{"cheaper_longer_path_beats_costly_direct_edge", coord(1), coord(4), "", []string{"1", "2", "3", "4"}},
		{"link_type_filter_follows_only_that_type", coord(1), coord(4), "x", []string{"1", "4"}},
		{"link_type_without_path_is_empty", coord(1), coord(4), "y", []string{}},
		{"edges_are_directed", coord(4), coord(1), "", []string{}},
		{"same_node_is_itself", coord(3), coord(3), "", []string{"3"}},
		{"unknown_node_is_empty", coord(1), coord(42), "", []string{}},
		{"unknown_source_is_empty", coord(42), coord(1), "", []string{}},
		{"zero_weight_edge", coord(1), coord(5), "", []string{"1", "5"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			seedGraph(f)
			got, err := f.app.ShortestPath.Handle(context.Background(), queries.ShortestPath{Caller: caller(), From: tc.from, To: tc.to, LinkType: tc.linkType})
			if err != nil {
				t.Fatal(err)
			}
			if k := pathKeys(got); !reflect.DeepEqual(k, tc.want) {
				t.Fatalf("got %v, want %v", k, tc.want)
			}
		})
	}
	t.Run("relinking_changes_the_choice", func(t *testing.T) {
		f := newFixture(t, nil)
		seedGraph(f)
		f.st.link(ns, coord(1), coord(4), "x", 2.5)
		got, _ := f.app.ShortestPath.Handle(context.Background(), queries.ShortestPath{Caller: caller(), From: coord(1), To: coord(4)})
		if k := pathKeys(got); !reflect.DeepEqual(k, []string{"1", "4"}) {
			t.Fatalf("got %v", k)
		}
	})
	t.Run("expands_frontier_in_batches", func(t *testing.T) {
		// A star: 1 → 100..399, each → 2 at cost 5; 1 → 2 costs 100.
		f := newFixture(t, nil)
		f.st.link(ns, coord(1), coord(2), "related", 100)
		for i := 100; i < 400; i++ {
			f.st.link(ns, coord(1), coord(float64(i)), "related", 1)
			f.st.link(ns, coord(float64(i)), coord(2), "related", 5)
		}
		got, err := f.app.ShortestPath.Handle(context.Background(), queries.ShortestPath{Caller: caller(), From: coord(1), To: coord(2)})
		if err != nil || len(got) != 3 || got[1].Key() != "100" {
			t.Fatalf("%v %v", pathKeys(got), err)
		}
		loaded := 0
		for _, ks := range f.st.outEdgeKeys {
			loaded += len(ks)
		}
		if len(f.st.outEdgeKeys) > 3 || loaded < 300 {
			t.Fatalf("%d OutEdges calls loading %d nodes; want few calls of many nodes", len(f.st.outEdgeKeys), loaded)
		}
	})
	t.Run("stops_at_node_limit", func(t *testing.T) {
		f := newFixture(t, func(d *queries.Deps) { d.MaxPathNodes = 10 })
		for i := 1; i < 50; i++ {
			f.st.link(ns, coord(float64(i)), coord(float64(i+1)), "related", 1)
		}
		_, err := f.app.ShortestPath.Handle(context.Background(), queries.ShortestPath{Caller: caller(), From: coord(1), To: coord(50)})
		if !errors.Is(err, queries.ErrSearchLimit) {
			t.Fatalf("got %v", err)
		}
		got, err := f.app.ShortestPath.Handle(context.Background(), queries.ShortestPath{Caller: caller(), From: coord(1), To: coord(8)})
		if err != nil || len(got) != 8 {
			t.Fatalf("a path within the limit: %v %v", pathKeys(got), err)
		}
	})
}

func TestNeighbors(t *testing.T) {
	cases := []struct {
		name     string
		from     domain.Coordinate
		linkType string
		limit    int
		want     []string // "to:type"
	}{
		{"outgoing_in_insertion_order", coord(1), "", 10, []string{"4:x", "2:related", "5:y"}},
		{"type_filter_before_limit", coord(1), "y", 1, []string{"5:y"}},
		{"blank_type_is_no_filter", coord(1), "  ", 2, []string{"4:x", "2:related"}},
		{"limit_cuts", coord(1), "", 1, []string{"4:x"}},
		{"limit_zero_is_empty", coord(1), "", 0, []string{}},
		{"negative_limit_is_empty", coord(1), "", -3, []string{}},
		{"unknown_coordinate_is_empty", coord(77), "", 10, []string{}},
		{"incoming_edges_are_not_neighbours", coord(4), "", 10, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			seedGraph(f)
			got, err := f.app.Neighbors.Handle(context.Background(), queries.Neighbors{Caller: caller(), Coordinate: tc.from, LinkType: tc.linkType, Limit: tc.limit})
			if err != nil {
				t.Fatal(err)
			}
			out := []string{}
			for _, l := range got {
				out = append(out, l.To.Key()+":"+l.Type)
			}
			if !reflect.DeepEqual(out, tc.want) {
				t.Fatalf("got %v, want %v", out, tc.want)
			}
		})
	}
}

func TestRange(t *testing.T) {
	f := newFixture(t, nil)
	f.st.put(ns, coord(1, 1), domain.Episodic, 1, nil, nil)
	f.st.put(ns, coord(2, 5), domain.Semantic, 1, nil, nil)
	f.st.put(ns, coord(3), domain.Episodic, 1, nil, nil)
	f.st.put("other", coord(1, 1), domain.Episodic, 1, nil, nil)
	cases := []struct {
		name   string
		lo, hi domain.Coordinate
		typ    string
		want   []string
	}{
		{"empty_bounds_match_everything", domain.Coordinate{}, domain.Coordinate{}, "", []string{"1,1", "2,5", "3"}},
		{"inclusive_bounds", coord(1, 1), coord(2, 5), "", []string{"1,1", "2,5"}},
		{"common_prefix_only", coord(2), coord(3), "", []string{"2,5", "3"}},
		{"type_filter", domain.Coordinate{}, domain.Coordinate{}, "semantic", []string{"2,5"}},
		{"nothing_inside", coord(10), coord(11), "", []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.app.Range.Handle(context.Background(), queries.Range{Caller: caller(), Min: tc.lo, Max: tc.hi, Type: tc.typ})
			if err != nil {
				t.Fatal(err)
			}
			if k := pathKeys(got); !reflect.DeepEqual(k, tc.want) {
				t.Fatalf("got %v, want %v", k, tc.want)
			}
		})
	}
	t.Run("rejects_unknown_type", func(t *testing.T) {
		_, err := f.app.Range.Handle(context.Background(), queries.Range{Caller: caller(), Type: "x"})
		wantValidation(t, err, "type")
	})
}

func TestStats(t *testing.T) {
	f := newFixture(t, nil)
	seedRecall(f)
	want := queries.Stats{Total: 5, Episodic: 3, Semantic: 2}
	if got, err := f.app.Stats.Handle(context.Background(), queries.GetStats{Caller: caller()}); err != nil || got != want {
		t.Fatalf("%+v %v", got, err)
	}
	t.Run("falls_back_to_the_next_counter", func(t *testing.T) {
		hot := newStore()
		hot.countsErr = errDown
		g := newFixture(t, func(d *queries.Deps) { d.Counters = []queries.Counter{hot, d.Counters[0]} })
		seedRecall(g)
		if got, err := g.app.Stats.Handle(context.Background(), queries.GetStats{Caller: caller()}); err != nil || got != want {
			t.Fatalf("%+v %v", got, err)
		}
		g.st.countsErr = fmt.Errorf("%w: down", queries.ErrUnavailable)
		if _, err := g.app.Stats.Handle(context.Background(), queries.GetStats{Caller: caller()}); !errors.Is(err, queries.ErrUnavailable) {
			t.Fatalf("every counter failing: %v", err)
		}
	})
}

func TestGetMemoryExportHistory(t *testing.T) {
	f := newFixture(t, nil)
	seedRecall(f)
	t.Run("get_memory_found", func(t *testing.T) {
		m, err := f.app.GetMemory.Handle(context.Background(), queries.GetMemory{Caller: caller(), Coordinate: coord(2)})
		if err != nil || m.Payload["team"] != "y" {
			t.Fatalf("%+v %v", m, err)
		}
	})
	t.Run("get_memory_missing_is_not_found", func(t *testing.T) {
		_, err := f.app.GetMemory.Handle(context.Background(), queries.GetMemory{Caller: caller(), Coordinate: coord(9)})
		if !errors.Is(err, domain.ErrMemoryNotFound) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("export_walks_namespace_in_key_order", func(t *testing.T) {
		var keys []string
		err := f.app.Export.Handle(context.Background(), queries.Export{Caller: caller()}, func(m domain.Memory) error {
			keys = append(keys, m.Coordinate.Key())
			return nil
		})
		if err != nil || strings.Join(keys, " ") != "1 2 3 4 5" {
			t.Fatalf("%v %v", keys, err)
		}
	})
	t.Run("export_stops_on_callback_error", func(t *testing.T) {
		stop := errors.New("client gone")
		n := 0
		err := f.app.Export.Handle(context.Background(), queries.Export{Caller: caller()}, func(domain.Memory) error {
			n++
			return stop
		})
		if err != stop || n != 1 {
			t.Fatalf("%v after %d", err, n)
		}
	})
	t.Run("export_with_links_emits_every_edge_after_its_source", func(t *testing.T) {
		g := newFixture(t, nil)
		seedRecall(g)
		g.st.link(ns, coord(1), coord(2), "related", 1)
		g.st.link(ns, coord(1), coord(42), "cause", 0.5) // target need not exist
		g.st.link(ns, coord(3), coord(1), "related", 2)
		g.st.link("other", coord(9), coord(9), "self", 1)
		var seq []string
		err := g.app.Export.Handle(context.Background(), queries.Export{Caller: caller(), Links: func(l domain.Link) error {
			seq = append(seq, "link:"+l.From.Key()+">"+l.To.Key()+"/"+l.Type)
			return nil
		}}, func(m domain.Memory) error {
			seq = append(seq, "mem:"+m.Coordinate.Key())
			return nil
		})
		want := "mem:1 mem:2 mem:3 mem:4 mem:5 link:1>2/related link:1>42/cause link:3>1/related"
		if err != nil || strings.Join(seq, " ") != want {
			t.Fatalf("got %v %v", seq, err)
		}
	})
	t.Run("export_without_links_needs_no_graph", func(t *testing.T) {
		g := newFixture(t, func(d *queries.Deps) { d.Graph = nil })
		seedRecall(g)
		if err := g.app.Export.Handle(context.Background(), queries.Export{Caller: caller()}, func(domain.Memory) error { return nil }); err != nil {
			t.Fatal(err)
		}
		err := g.app.Export.Handle(context.Background(), queries.Export{Caller: caller(), Links: func(domain.Link) error { return nil }}, func(domain.Memory) error { return nil })
		if !errors.Is(err, queries.ErrNotConfigured) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("history_limit_bounds", func(t *testing.T) {
		_, err := f.app.History.Handle(context.Background(), queries.History{Caller: caller(), Coordinate: coord(1), Limit: 0})
		wantValidation(t, err, "limit")
		got, err := f.app.History.Handle(context.Background(), queries.History{Caller: caller(), Coordinate: coord(1), Limit: 5})
		if err != nil || len(got) != 1 {
			t.Fatalf("%v %v", got, err)
		}
		got, err = f.app.History.Handle(context.Background(), queries.History{Caller: caller(), Coordinate: coord(99), Limit: 5})
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("unknown coordinate: %v %v", got, err)
		}
	})
}
