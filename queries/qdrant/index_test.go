package qdrant

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/qdrantfake"
	"github.com/somafractalmemory/soma/queries"
)

// filters decodes a JSON object as the query API does (numbers as
// json.Number).
func filters(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSearch(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, f *fixture) {
		t.Run("filters_apply_before_top_k", func(t *testing.T) {
			f.store(
				mem{ns: "filt", coord: coord(1), cos: 0.99, norm: 1, payload: `{"kind":"a"}`},
				mem{ns: "filt", coord: coord(2), cos: 0.98, norm: 1, payload: `{"kind":"a"}`},
				mem{ns: "filt", coord: coord(3), cos: 0.10, norm: 1, payload: `{"kind":"b"}`},
			)
			q := vq("filt", 1)
			q.Filters = filters(t, `{"kind":"b"}`)
			if got := keys(f.search(q)); !slices.Equal(got, []string{"3"}) {
				t.Fatalf("got %v, want [3]: a closer memory filtered out must not use up the slot", got)
			}
		})

		t.Run("type_filter_applies_before_top_k", func(t *testing.T) {
			f.store(
				mem{ns: "typ", coord: coord(1), cos: 0.99, norm: 1},
				mem{ns: "typ", coord: coord(2), cos: 0.20, norm: 1, typ: domain.Semantic},
				mem{ns: "typ", coord: coord(3), cos: 0.10, norm: 1, typ: domain.Semantic},
			)
			q := vq("typ", 1)
			q.Type = domain.Semantic
			if got := keys(f.search(q)); !slices.Equal(got, []string{"2"}) {
				t.Fatalf("semantic: got %v, want [2]", got)
			}
			q.Type, q.TopK = domain.Episodic, 5
			if got := keys(f.search(q)); !slices.Equal(got, []string{"1"}) {
				t.Fatalf("episodic: got %v, want [1]", got)
			}
		})

		t.Run("numbers_compare_numerically", func(t *testing.T) {
			f.store(
				mem{ns: "num", coord: coord(1), cos: 0.9, norm: 1, payload: `{"n":1}`},
				mem{ns: "num", coord: coord(2), cos: 0.8, norm: 1, payload: `{"n":1.0}`},
				mem{ns: "num", coord: coord(3), cos: 0.7, norm: 1, payload: `{"n":2}`},
				mem{ns: "num", coord: coord(4), cos: 0.6, norm: 1, payload: `{"n":"1"}`},
				mem{ns: "num", coord: coord(5), cos: 0.5, norm: 1, payload: `{"n":[1,2]}`},
				mem{ns: "num", coord: coord(6), cos: 0.4, norm: 1, payload: `{"n":1.5}`},
			)
			for _, fl := range []map[string]any{
				filters(t, `{"n":1}`), filters(t, `{"n":1.0}`), filters(t, `{"n":1e0}`),
				{"n": 1.0}, {"n": 1}, {"n": int64(1)},
			} {
				q := vq("num", 10)
				q.Filters = fl
				if got := keys(f.search(q)); !slices.Equal(got, []string{"1", "2"}) {
					t.Errorf("filter %v: got %v, want [1 2]", fl, got)
				}
			}
			q := vq("num", 10)
			q.Filters = filters(t, `{"n":1.5}`)
			if got := keys(f.search(q)); !slices.Equal(got, []string{"6"}) {
				t.Errorf("n=1.5: got %v, want [6]", got)
			}
			q.Filters = filters(t, `{"n":"1"}`)
			if got := keys(f.search(q)); !slices.Equal(got, []string{"4"}) {
				t.Errorf(`n="1": got %v, want [4] (a string is not a number)`, got)
			}
		})

		t.Run("arrays_objects_and_null_compare_whole_values", func(t *testing.T) {
			f.store(
				mem{ns: "deep", coord: coord(1), cos: 0.9, norm: 1, payload: `{"tags":["x","y"],"o":{"a":1,"b":"z"},"v":null}`},
				mem{ns: "deep", coord: coord(2), cos: 0.8, norm: 1, payload: `{"tags":"x","o":{"a":1},"v":false}`},
				mem{ns: "deep", coord: coord(3), cos: 0.7, norm: 1, payload: `{"tags":["x"],"o":{"a":1.0,"b":"z"},"e":[]}`},
				mem{ns: "deep", coord: coord(4), cos: 0.6, norm: 1, payload: `{"e":null}`},
			)
			cases := []struct {
				name, filter string
				want         []string
			}{
				{"scalar_does_not_match_array_holding_it", `{"tags":"x"}`, []string{"2"}},
				{"array_matches_equal_array_only", `{"tags":["x","y"]}`, []string{"1"}},
				{"array_order_matters", `{"tags":["y","x"]}`, nil},
				{"object_matches_equal_object_only", `{"o":{"a":1,"b":"z"}}`, []string{"1", "3"}},
				{"null_matches_explicit_null_only", `{"v":null}`, []string{"1"}},
				{"false_is_not_null", `{"v":false}`, []string{"2"}},
				{"empty_array_is_not_null", `{"e":[]}`, []string{"3"}},
				{"all_filters_must_hold", `{"tags":["x"],"o":{"a":1,"b":"z"}}`, []string{"3"}},
				{"system_fields_of_the_record", `{"memory_type":"episodic","tags":"x"}`, []string{"2"}},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					q := vq("deep", 10)
					q.Filters = filters(t, c.filter)
					if got := keys(f.search(q)); !slices.Equal(got, c.want) {
						t.Fatalf("filter %s: got %v, want %v", c.filter, got, c.want)
					}
				})
			}
		})

		t.Run("orders_by_score_then_coordinate_key", func(t *testing.T) {
			f.store(
				mem{ns: "ord", coord: coord(1), cos: 0.9, norm: 0.1},  // 0.09
				mem{ns: "ord", coord: coord(2), cos: 0.5, norm: 1},    // 0.5
				mem{ns: "ord", coord: coord(10), cos: 0.5, norm: 1},   // 0.5, key "10" < "2"
				mem{ns: "ord", coord: coord(3), cos: 0.6, norm: 0.75}, // 0.45
			)
			hits := f.search(vq("ord", 4))
			if got := keys(hits); !slices.Equal(got, []string{"10", "2", "3", "1"}) {
				t.Fatalf("got %v, want [10 2 3 1]", got)
			}
			h := hits[3]
			if math.Abs(h.Cosine-0.9) > 1e-6 || h.ImportanceNorm != 0.1 || math.Abs(h.Score-0.09) > 1e-6 {
				t.Fatalf("hit parts = %+v", h)
			}
			if got := keys(f.search(vq("ord", 1))); !slices.Equal(got, []string{"10"}) {
				t.Fatalf("top 1: got %v, want [10]", got)
			}
		})

		t.Run("zero_scores_come_last_by_coordinate_key", func(t *testing.T) {
			f.store(
				mem{ns: "zero", coord: coord(5), cos: -0.5, norm: 1},
				mem{ns: "zero", coord: coord(1), cos: 0.99, norm: 0},
				mem{ns: "zero", coord: coord(3), cos: 0.2, norm: 0.5},
				mem{ns: "zero", coord: coord(4), cos: -0.9, norm: 1},
				mem{ns: "zero", coord: coord(2), cos: 0, norm: 1},
			)
			hits := f.search(vq("zero", 10))
			if got := keys(hits); !slices.Equal(got, []string{"3", "1", "2", "4", "5"}) {
				t.Fatalf("got %v, want [3 1 2 4 5]", got)
			}
			for _, h := range hits[1:] {
				if h.Score != 0 {
					t.Fatalf("score of %s = %v, want 0", h.Coordinate, h.Score)
				}
			}
			if h := hits[3]; math.Abs(h.Cosine+0.9) > 1e-6 {
				t.Fatalf("cosine of a zero-score hit = %v, want -0.9", h.Cosine)
			}
			if got := keys(f.search(vq("zero", 3))); !slices.Equal(got, []string{"3", "1", "2"}) {
				t.Fatalf("top 3: got %v, want [3 1 2]", got)
			}
		})

		t.Run("namespaces_are_isolated", func(t *testing.T) {
			f.store(
				mem{ns: "iso-a", coord: coord(1), cos: 0.1, norm: 1, payload: `{"k":1}`},
				mem{ns: "iso-b", coord: coord(1), cos: 0.9, norm: 1, payload: `{"k":1}`},
				mem{ns: "iso-b", coord: coord(2), cos: 0.8, norm: 1, payload: `{"k":1}`},
			)
			q := vq("iso-a", 10)
			q.Filters = filters(t, `{"k":1}`)
			hits := f.search(q)
			if got := keys(hits); !slices.Equal(got, []string{"1"}) || math.Abs(hits[0].Cosine-0.1) > 1e-6 {
				t.Fatalf("got %+v, want only iso-a's memory", hits)
			}
			if got := f.search(vq("iso-none", 10)); len(got) != 0 || got == nil {
				t.Fatalf("unknown namespace: got %#v, want an empty non-nil list", got)
			}
		})

		t.Run("deleted_and_replaced_memories_follow_the_log", func(t *testing.T) {
			f.store(
				mem{ns: "life", coord: coord(1), cos: 0.9, norm: 1},
				mem{ns: "life", coord: coord(2), cos: 0.5, norm: 1},
			)
			f.apply(domain.MemoryDeleted{EventMeta: f.meta("life"), Coordinate: coord(1)})
			f.store(mem{ns: "life", coord: coord(2), cos: 0.3, norm: 1})
			hits := f.search(vq("life", 10))
			if got := keys(hits); !slices.Equal(got, []string{"2"}) || math.Abs(hits[0].Cosine-0.3) > 1e-6 {
				t.Fatalf("got %+v, want only the replaced memory 2", hits)
			}
			f.apply(domain.MemoryImportanceSet{EventMeta: f.meta("life"), Coordinate: coord(2), Importance: 3, ImportanceNorm: 0.25})
			if hits := f.search(vq("life", 1)); len(hits) != 1 || hits[0].ImportanceNorm != 0.25 {
				t.Fatalf("after importance change: %+v", hits)
			}
		})

		t.Run("refuses_another_model", func(t *testing.T) {
			q := vq("filt", 1)
			q.EmbeddingModel = "other/4"
			if _, err := f.ix.Search(ctx, q); !errors.Is(err, queries.ErrModelMismatch) {
				t.Fatalf("err = %v, want ErrModelMismatch", err)
			}
			q = vq("filt", 1)
			q.Vector = []float32{1, 0, 0}
			if _, err := f.ix.Search(ctx, q); !errors.Is(err, queries.ErrModelMismatch) {
				t.Fatalf("dimension 3: err = %v, want ErrModelMismatch", err)
			}
			if _, err := f.ix.Search(ctx, vq("filt", 1)); err != nil {
				t.Fatalf("the right dimension again: %v", err)
			}
		})

		t.Run("refuses_points_of_another_model", func(t *testing.T) {
			// The projection of this fixture accepts any model: a point of
			// another model must never be ranked against the query.
			f.store(mem{ns: "mixed", coord: coord(1), cos: 0.9, norm: 1, model: "other/4"})
			if _, err := f.ix.Search(ctx, vq("mixed", 1)); !errors.Is(err, queries.ErrModelMismatch) {
				t.Fatalf("err = %v, want ErrModelMismatch", err)
			}
		})

		t.Run("refuses_invalid_queries", func(t *testing.T) {
			cases := []struct {
				name string
				edit func(*queries.VectorQuery)
			}{
				{"rejects_top_k_0", func(q *queries.VectorQuery) { q.TopK = 0 }},
				{"rejects_top_k_1001", func(q *queries.VectorQuery) { q.TopK = 1001 }},
				{"rejects_empty_namespace", func(q *queries.VectorQuery) { q.Namespace = "" }},
				{"rejects_unknown_type", func(q *queries.VectorQuery) { q.Type = "procedural" }},
				{"rejects_zero_vector", func(q *queries.VectorQuery) { q.Vector = make([]float32, dim) }},
				{"rejects_nan_vector", func(q *queries.VectorQuery) { q.Vector = []float32{float32(math.NaN()), 0, 0, 1} }},
				{"rejects_unaddressable_key", func(q *queries.VectorQuery) { q.Filters = map[string]any{`a"b`: "x"} }},
				{"rejects_empty_key", func(q *queries.VectorQuery) { q.Filters = map[string]any{"": "x"} }},
				{"rejects_non_finite_filter", func(q *queries.VectorQuery) { q.Filters = map[string]any{"n": math.Inf(1)} }},
				{"rejects_unsupported_filter_type", func(q *queries.VectorQuery) { q.Filters = map[string]any{"n": struct{}{}} }},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					q := vq("filt", 1)
					c.edit(&q)
					_, err := f.ix.Search(ctx, q)
					var ve domain.ValidationErrors
					if !errors.Is(err, ErrInvalidQuery) || !errors.As(err, &ve) {
						t.Fatalf("err = %v, want domain.ValidationErrors of ErrInvalidQuery", err)
					}
				})
			}
		})

		t.Run("dotted_keys_are_quoted", func(t *testing.T) {
			f.store(
				mem{ns: "dots", coord: coord(1), cos: 0.9, norm: 1, payload: `{"a.b":"x","a":{"b":"y"}}`},
				mem{ns: "dots", coord: coord(2), cos: 0.8, norm: 1, payload: `{"a":{"b":"x"}}`},
			)
			q := vq("dots", 10)
			q.Filters = filters(t, `{"a.b":"x"}`)
			if got := keys(f.search(q)); !slices.Equal(got, []string{"1"}) {
				t.Fatalf("got %v, want [1]", got)
			}
		})
	})
}

func TestNewRejectsIncompleteConfig(t *testing.T) {
	ix := New(nil, "", "")
	if _, err := ix.Search(context.Background(), vq("ns", 1)); err == nil {
		t.Fatal("Search on an index without client succeeded")
	}
	if _, err := ix.Positions(context.Background(), source); err == nil {
		t.Fatal("Positions on an index without client succeeded")
	}
}

func TestSearchZeroRegionKeepsSmallestKeys(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		ms := []mem{
			{ns: "zr", coord: coord(100), cos: 0.5, norm: 0.5},
			{ns: "zr", coord: coord(200), cos: 0.9, norm: 0.5},
		}
		for i := range 40 {
			// Negative cosines, decreasing with i; keys "0".."39" in
			// string order are not in cosine order.
			ms = append(ms, mem{ns: "zr", coord: coord(float64(39 - i)), cos: -0.01 - float64(i)/50, norm: 1})
		}
		f.store(ms...)
		want := []string{"200", "100", "0", "1", "10"}
		for _, first := range []int{0, 1, 2, 5} {
			f.ix.firstPage = first
			hits := f.search(vq("zr", 5))
			if got := keys(hits); !slices.Equal(got, want) {
				t.Fatalf("first page %d: got %v, want %v", first, got, want)
			}
			// "0" is coord(39-39): cosine -0.01-39/50.
			if h := hits[2]; math.Abs(h.Cosine-(-0.01-39.0/50)) > 1e-6 || h.Score != 0 {
				t.Fatalf("first page %d: zero hit = %+v", first, h)
			}
		}
		f.ix.firstPage = 0
	})
}

func TestUnreachableQdrantIsUnavailable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	ix := New(qdrantfake.Connect(t, addr), "soma_memories", model)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ix.Search(ctx, vq("ns", 1)); !errors.Is(err, queries.ErrUnavailable) {
		t.Fatalf("Search: err = %v, want ErrUnavailable", err)
	}
	if _, err := ix.Positions(ctx, source); !errors.Is(err, queries.ErrUnavailable) {
		t.Fatalf("Positions: err = %v, want ErrUnavailable", err)
	}
}
