package vectorindex

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const testModel = "test/384"

func randVec(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func newFlat(t testing.TB, dim int) *Flat {
	t.Helper()
	f, err := NewFlat(testModel, dim)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDotKernelsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 130 {
		a, b := randVec(rng, n), randVec(rng, n+3)
		var want float64
		for i := range a {
			want += float64(a[i]) * float64(b[i])
		}
		for name, got := range map[string]float32{"dot": dot(a, b), "generic": dotGeneric(a, b)} {
			if math.Abs(float64(got)-want) > 1e-4*(1+math.Abs(want))*float64(n+1) {
				t.Fatalf("%s(n=%d) = %v, want %v", name, n, got, want)
			}
		}
	}
}

// bruteForce is the specification: score every row with the same kernel,
// filter, sort, cut.
func bruteForce(rows map[ID]Entry, q Query) []Result {
	filters, ok := compileFilters(q.Filters)
	if !ok {
		return []Result{}
	}
	var qss float64
	for _, x := range q.Vector {
		qss += float64(x) * float64(x)
	}
	out := []Result{}
	for id, e := range rows {
		if id.Namespace != q.Namespace || (q.Type != "" && e.Type != q.Type) || !e.Fields.matches(filters) {
			continue
		}
		cos := float64(dot(q.Vector, e.Vector)) * float64(invNorm(e.Vector)) * (1 / math.Sqrt(qss))
		cos = max(-1, min(1, cos))
		out = append(out, Result{Key: id.Key, Cosine: cos, ImportanceNorm: e.ImportanceNorm, Score: max(0, cos) * e.ImportanceNorm})
	}
	slices.SortFunc(out, func(a, b Result) int { return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.Key, b.Key)) })
	return out[:min(len(out), q.TopK)]
}

func TestSearchMatchesBruteForce(t *testing.T) {
	const dim = 384
	rows := 20000 // several workers on two or more cores
	if testing.Short() {
		rows = 3000
	}
	rng := rand.New(rand.NewPCG(3, 4))
	f := newFlat(t, dim)
	all := map[ID]Entry{}
	colors := []string{"red", "green", "blue"}
	var batch []Entry
	for i := range rows {
		ns := []string{"a", "b"}[rng.IntN(2)]
		payload := map[string]any{
			"color": colors[rng.IntN(3)],
			"n":     json.Number(fmt.Sprint(rng.IntN(4))), // numbers as decoded events carry them
			"flag":  rng.IntN(2) == 0,
			"obj":   map[string]any{"color": colors[rng.IntN(3)]},
		}
		if rng.IntN(5) == 0 {
			payload["maybe"] = nil
		}
		e := Entry{
			ID:             ID{Namespace: ns, Key: fmt.Sprintf("%d,%d", rng.IntN(1000), i)},
			Type:           []string{"episodic", "semantic"}[rng.IntN(2)],
			ImportanceNorm: float64(rng.IntN(11)) / 10, // many equal importances, zeros included
			Fields:         PayloadFields(payload),
			Vector:         randVec(rng, dim),
		}
		all[e.ID] = e
		batch = append(batch, e)
		if len(batch) == 1000 {
			if err := f.Upsert(batch...); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := f.Upsert(batch...); err != nil {
		t.Fatal(err)
	}
	// Delete a tenth, re-store another tenth with new vectors.
	for id, e := range all {
		switch rng.IntN(10) {
		case 0:
			f.Delete(id)
			delete(all, id)
		case 1:
			e.Vector = randVec(rng, dim)
			e.ImportanceNorm = 1
			all[id] = e
			if err := f.Upsert(e); err != nil {
				t.Fatal(err)
			}
		}
	}
	if f.Len() != len(all) {
		t.Fatalf("Len = %d, want %d", f.Len(), len(all))
	}

	ctx := context.Background()
	queries := []struct {
		name    string
		typ     string
		filters map[string]any
		k       int
	}{
		{"no_filter_k1", "", nil, 1},
		{"no_filter_k10", "", nil, 10},
		{"no_filter_k1000", "", nil, 1000},
		{"type", "semantic", nil, 10},
		{"string_filter", "", map[string]any{"color": "blue"}, 10},
		{"number_filter_as_float", "", map[string]any{"n": 2.0}, 10},
		{"number_filter_as_int", "episodic", map[string]any{"n": 3}, 25},
		{"two_filters", "", map[string]any{"color": "red", "flag": true}, 50},
		{"null_filter", "", map[string]any{"maybe": nil}, 20},
		{"rare_filter_small_result", "semantic", map[string]any{"color": "green", "n": json.Number("1"), "flag": false, "maybe": nil}, 100},
		{"no_match", "", map[string]any{"color": "purple"}, 10},
		{"object_filter", "", map[string]any{"obj": map[string]any{"color": "red"}}, 10},
		{"unfilterable_value_matches_nothing", "", map[string]any{"color": []string{"red"}}, 10},
		{"unknown_type", "procedural", nil, 10},
		{"k_larger_than_namespace", "", map[string]any{"color": "red", "flag": false, "n": 0}, 100000},
	}
	for _, tc := range queries {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 3 {
				q := Query{Namespace: []string{"a", "b"}[i%2], Model: testModel, Vector: randVec(rng, dim), TopK: tc.k, Type: tc.typ, Filters: tc.filters}
				got, err := f.Search(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				want := bruteForce(all, q)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("query %d: got %d results, want %d\n got %v\nwant %v", i, len(got), len(want), head(got), head(want))
				}
			}
		})
	}
}

func head(rs []Result) []Result { return rs[:min(len(rs), 5)] }

func TestFilterValues(t *testing.T) {
	ctx := context.Background()
	f := newFlat(t, 2)
	payload := map[string]any{}
	if err := json.Unmarshal([]byte(`{"one":1,"onef":1.0,"big":1e3,"s":"1","t":true,"f":false,"z":null,"arr":[1,"x",{"b":2,"a":[true]}],"obj":{"k":1,"j":null}}`), &payload); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(`{"one":1,"s":"x"}`))
	dec.UseNumber()
	var numPayload map[string]any
	if err := dec.Decode(&numPayload); err != nil {
		t.Fatal(err)
	}
	must(t, f.Upsert(
		Entry{ID: ID{"ns", "p"}, ImportanceNorm: 1, Fields: PayloadFields(payload), Vector: []float32{1, 0}},
		Entry{ID: ID{"ns", "n"}, ImportanceNorm: 1, Fields: PayloadFields(numPayload), Vector: []float32{1, 0}},
	))
	for _, tc := range []struct {
		name    string
		filters map[string]any
		want    []string
	}{
		{"integer_equals_float", map[string]any{"one": 1.0}, []string{"n", "p"}},
		{"float_equals_integer", map[string]any{"onef": 1}, []string{"p"}},
		{"json_number_equals_float", map[string]any{"one": json.Number("1.00")}, []string{"n", "p"}},
		{"exponent_form", map[string]any{"big": 1000}, []string{"p"}},
		{"number_is_not_string", map[string]any{"one": "1"}, nil},
		{"string_is_not_number", map[string]any{"s": 1}, nil},
		{"string_exact", map[string]any{"s": "1"}, []string{"p"}},
		{"bool_true", map[string]any{"t": true}, []string{"p"}},
		{"bool_is_not_number", map[string]any{"t": 1}, nil},
		{"bool_false", map[string]any{"f": false}, []string{"p"}},
		{"explicit_null", map[string]any{"z": nil}, []string{"p"}},
		{"missing_is_not_null", map[string]any{"missing": nil}, nil},
		{"array_element_by_element", map[string]any{"arr": []any{1.0, "x", map[string]any{"a": []any{true}, "b": json.Number("2.0")}}}, []string{"p"}},
		{"array_order_matters", map[string]any{"arr": []any{"x", 1, map[string]any{"a": []any{true}, "b": 2}}}, nil},
		{"array_is_not_its_element", map[string]any{"arr": 1}, nil},
		{"object_key_order_free", map[string]any{"obj": map[string]any{"j": nil, "k": 1.0}}, []string{"p"}},
		{"object_must_be_whole", map[string]any{"obj": map[string]any{"k": 1}}, nil},
		{"go_slice_matches_nothing", map[string]any{"arr": []int{1}}, nil},
		{"all_must_hold", map[string]any{"one": 1, "s": "x"}, []string{"n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := f.Search(ctx, Query{Namespace: "ns", Model: testModel, Vector: []float32{1, 0}, TopK: 10, Filters: tc.filters})
			must(t, err)
			var got []string
			for _, r := range res {
				got = append(got, r.Key)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("keys = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNoStaleVectors(t *testing.T) {
	ctx := context.Background()
	f := newFlat(t, 3)
	search := func(v []float32) []Result {
		t.Helper()
		r, err := f.Search(ctx, Query{Namespace: "ns", Vector: v, TopK: 10})
		must(t, err)
		return r
	}
	e := func(key string, v ...float32) Entry {
		return Entry{ID: ID{"ns", key}, ImportanceNorm: 1, Vector: v}
	}
	must(t, f.Upsert(e("a", 1, 0, 0), e("b", 0, 1, 0), e("c", 0, 0, 1)))

	t.Run("deleted_row_never_returned", func(t *testing.T) {
		if n := f.Delete(ID{"ns", "a"}, ID{"ns", "zzz"}, ID{"other", "a"}); n != 1 {
			t.Fatalf("Delete = %d, want 1", n)
		}
		for _, r := range search([]float32{1, 0, 0}) {
			if r.Key == "a" {
				t.Fatalf("deleted row returned: %+v", r)
			}
		}
		// c moved into a's row and keeps its own vector.
		got, ok := f.Get(ID{"ns", "c"})
		if !ok || !slices.Equal(got.Vector, []float32{0, 0, 1}) {
			t.Fatalf("c after the swap = %+v, %v", got, ok)
		}
	})
	t.Run("restore_replaces_vector", func(t *testing.T) {
		must(t, f.Upsert(e("b", 1, 0, 0)))
		res := search([]float32{0, 1, 0})
		for _, r := range res {
			if r.Key == "b" && r.Cosine != 0 {
				t.Fatalf("b scored with its old vector: %+v", r)
			}
		}
		if res := search([]float32{1, 0, 0}); res[0].Key != "b" || res[0].Score != 1 {
			t.Fatalf("top = %+v, want b with its new vector", res[0])
		}
		if f.Len() != 2 {
			t.Fatalf("Len = %d, want 2", f.Len())
		}
	})
	t.Run("delete_everything", func(t *testing.T) {
		f.Delete(ID{"ns", "b"}, ID{"ns", "c"})
		if r := search([]float32{1, 1, 1}); len(r) != 0 || f.Len() != 0 {
			t.Fatalf("results after deleting everything: %v (Len %d)", r, f.Len())
		}
	})
}

func TestChurnKeepsIndexConsistent(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	f := newFlat(t, 8)
	want := map[ID]Entry{}
	for range 5000 {
		id := ID{Namespace: "ns", Key: fmt.Sprint(rng.IntN(300))}
		if rng.IntN(3) == 0 {
			f.Delete(id)
			delete(want, id)
			continue
		}
		e := Entry{ID: id, ImportanceNorm: rng.Float64(), Vector: randVec(rng, 8)}
		must(t, f.Upsert(e))
		want[id] = e
	}
	if f.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", f.Len(), len(want))
	}
	for id, e := range want {
		got, ok := f.Get(id)
		if !ok || !slices.Equal(got.Vector, e.Vector) || got.ImportanceNorm != e.ImportanceNorm {
			t.Fatalf("row %v = %+v, want %+v", id, got, e)
		}
	}
	if ids := f.IDs(); len(ids) != len(want) {
		t.Fatalf("IDs has %d rows, want %d", len(ids), len(want))
	}
}

func TestTiesOrderedByKey(t *testing.T) {
	f := newFlat(t, 4)
	rows := 3 * minRowsPerWorker // spans several workers
	var es []Entry
	for i := range rows {
		es = append(es, Entry{ID: ID{"ns", fmt.Sprintf("k%05d", rows-i)}, ImportanceNorm: 0.5, Vector: []float32{1, 2, 3, 4}})
	}
	must(t, f.Upsert(es...))
	for _, k := range []int{1, 7, 100} {
		res, err := f.Search(context.Background(), Query{Namespace: "ns", Vector: []float32{1, 2, 3, 4}, TopK: k})
		must(t, err)
		for i, r := range res {
			if want := fmt.Sprintf("k%05d", i+1); r.Key != want {
				t.Fatalf("k=%d result %d = %s, want %s", k, i, r.Key, want)
			}
		}
	}
}

func TestZeroScoresStillReturnedLast(t *testing.T) {
	f := newFlat(t, 2)
	must(t, f.Upsert(
		Entry{ID: ID{"ns", "opposite"}, ImportanceNorm: 1, Vector: []float32{-1, 0}},
		Entry{ID: ID{"ns", "unimportant"}, ImportanceNorm: 0, Vector: []float32{1, 0}},
		Entry{ID: ID{"ns", "good"}, ImportanceNorm: 0.5, Vector: []float32{1, 1}},
		Entry{ID: ID{"ns", "zero"}, ImportanceNorm: 1, Vector: []float32{0, 0}},
	))
	res, err := f.Search(context.Background(), Query{Namespace: "ns", Vector: []float32{1, 0}, TopK: 10})
	must(t, err)
	var keys []string
	for _, r := range res {
		keys = append(keys, r.Key)
	}
	if want := []string{"good", "opposite", "unimportant", "zero"}; !slices.Equal(keys, want) {
		t.Fatalf("order = %v, want %v", keys, want)
	}
	if res[1].Cosine != -1 || res[1].Score != 0 {
		t.Fatalf("opposite = %+v, want cosine -1, score 0", res[1])
	}
}

func TestModelMismatch(t *testing.T) {
	f := newFlat(t, 3)
	must(t, f.Upsert(Entry{ID: ID{"ns", "a"}, ImportanceNorm: 1, Vector: []float32{1, 0, 0}}))
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		model string
		vec   []float32
	}{
		{"other_model", "other/3", []float32{1, 0, 0}},
		{"other_dimension", testModel, []float32{1, 0}},
		{"unnamed_model_other_dimension", "", []float32{1, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.Search(ctx, Query{Namespace: "ns", Model: tc.model, Vector: tc.vec, TopK: 1})
			if !errors.Is(err, ErrModelMismatch) {
				t.Fatalf("Search = %v, want ErrModelMismatch", err)
			}
		})
	}
	if _, err := f.Search(ctx, Query{Namespace: "ns", Vector: []float32{1, 0, 0}, TopK: 1}); err != nil {
		t.Fatalf("query without model name: %v", err)
	}
}

func TestRejectsInvalidInput(t *testing.T) {
	f := newFlat(t, 2)
	nan := float32(math.NaN())
	err := f.Upsert(Entry{ID: ID{"ns", "ok"}, Vector: []float32{1, 1}}, Entry{ID: ID{"ns", "bad"}, Vector: []float32{nan, 1}})
	if !errors.Is(err, ErrInvalidVector) || f.Len() != 0 {
		t.Fatalf("Upsert with a NaN = %v (Len %d), want ErrInvalidVector and nothing stored", err, f.Len())
	}
	if err := f.Upsert(Entry{ID: ID{"ns", "short"}, Vector: []float32{1}}); !errors.Is(err, ErrInvalidVector) {
		t.Fatalf("Upsert of a short vector = %v", err)
	}
	if _, err := f.Search(context.Background(), Query{Namespace: "ns", Vector: []float32{1, 1}, TopK: 0}); !errors.Is(err, ErrInvalidQuery) {
		t.Fatalf("top k 0 = %v", err)
	}
	if _, err := f.Search(context.Background(), Query{Namespace: "ns", Vector: []float32{nan, 1}, TopK: 1}); !errors.Is(err, ErrInvalidVector) {
		t.Fatalf("NaN query = %v", err)
	}
}

func TestSearchHonoursCancellation(t *testing.T) {
	f := newFlat(t, 4)
	rng := rand.New(rand.NewPCG(5, 5))
	var es []Entry
	for i := range 3 * ctxCheckRows {
		es = append(es, Entry{ID: ID{"ns", fmt.Sprint(i)}, ImportanceNorm: 1, Vector: randVec(rng, 4)})
	}
	must(t, f.Upsert(es...))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Search(ctx, Query{Namespace: "ns", Vector: []float32{1, 0, 0, 0}, TopK: 3}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Search with a cancelled context = %v", err)
	}
}

func TestFieldsRoundTrip(t *testing.T) {
	huge := make([]any, MaxCompositeBytes)
	for i := range huge {
		huge[i] = 1
	}
	fs := PayloadFields(map[string]any{"a": "x", "b": 1.5, "c": true, "d": false, "e": nil, "f": json.Number("-2e3"),
		"g": []any{}, "": "empty", "h": map[string]any{"z": 1, "y": json.Number("1e0")}, "huge": huge, "inf": json.Number("1e400")})
	b := MarshalFields(fs)
	got, err := UnmarshalFields(b)
	must(t, err)
	if v, _ := got.Get("h"); v.Kind != KindJSON || v.Str != `{"y":1,"z":1}` {
		t.Fatalf("canonical object = %+v", v)
	}
	if _, ok := got.Get("huge"); ok {
		t.Fatal("a composite over MaxCompositeBytes was kept")
	}
	if !reflect.DeepEqual(got, fs) || len(got) != 9 {
		t.Fatalf("round trip = %+v, want %+v", got, fs)
	}
	if got, err := UnmarshalFields(MarshalFields(nil)); err != nil || got != nil {
		t.Fatalf("empty round trip = %v, %v", got, err)
	}
	for i := 1; i < len(b); i++ {
		if _, err := UnmarshalFields(b[:i]); err == nil {
			t.Fatalf("truncated at %d: no error", i)
		}
	}
	with := fs.With("b", Value{Kind: KindNumber, Num: 7}).With("bb", Value{Kind: KindNull})
	if v, ok := with.Get("b"); !ok || v.Num != 7 {
		t.Fatalf("With replaced b = %+v", v)
	}
	if _, ok := with.Get("bb"); !ok || len(with) != 10 || !slices.IsSortedFunc(with, func(a, b Field) int { return cmp.Compare(a.Name, b.Name) }) {
		t.Fatalf("With added bb: %+v", with)
	}
	if v, _ := fs.Get("b"); v.Num != 1.5 {
		t.Fatalf("With changed the original: %+v", fs)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
