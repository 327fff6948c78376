package qdrantfake_test

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/somafractalmemory/soma/internal/qdrantfake"
)

// Every test below runs against the double and, when SOMA_TEST_QDRANT_URL
// is set, against a real Qdrant: the double must behave like Qdrant on
// everything these tests pin.

func eachBackend(t *testing.T, fn func(t *testing.T, c *qdrant.Client)) {
	t.Helper()
	for _, b := range qdrantfake.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { fn(t, b.Client(t)) })
	}
}

func newCollection(t *testing.T, c *qdrant.Client, dim uint64, dist qdrant.Distance) string {
	t.Helper()
	name := qdrantfake.UniqueName(t, "fake")
	err := c.CreateCollection(context.Background(), &qdrant.CreateCollection{
		CollectionName: name,
		VectorsConfig:  qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: dim, Distance: dist}),
	})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.DeleteCollection(context.Background(), name) })
	return name
}

func upsert(t *testing.T, c *qdrant.Client, collection string, points ...*qdrant.PointStruct) {
	t.Helper()
	_, err := c.Upsert(context.Background(), &qdrant.UpsertPoints{
		CollectionName: collection,
		Wait:           qdrant.PtrOf(true),
		Points:         points,
	})
	if err != nil {
		t.Fatalf("upsert: %v", err)
	}
}

func pt(id uint64, vec []float32, payload map[string]any) *qdrant.PointStruct {
	return &qdrant.PointStruct{Id: qdrant.NewIDNum(id), Vectors: qdrant.NewVectors(vec...), Payload: qdrant.NewValueMap(payload)}
}

func ids[P interface{ GetId() *qdrant.PointId }](points []P) []uint64 {
	out := make([]uint64, len(points))
	for i, p := range points {
		out[i] = p.GetId().GetNum()
	}
	return out
}

func wantCode(t *testing.T, err error, codes ...codes.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error with code %v, got nil", codes)
	}
	if got := status.Code(err); !slices.Contains(codes, got) {
		t.Fatalf("want code %v, got %v (%v)", codes, got, err)
	}
}

func TestCollections(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, c *qdrant.Client) {
		name := newCollection(t, c, 4, qdrant.Distance_Cosine)

		t.Run("exists", func(t *testing.T) {
			ok, err := c.CollectionExists(ctx, name)
			if err != nil || !ok {
				t.Fatalf("exists = %v, %v", ok, err)
			}
			ok, err = c.CollectionExists(ctx, name+"_missing")
			if err != nil || ok {
				t.Fatalf("missing exists = %v, %v", ok, err)
			}
		})
		t.Run("create_existing_is_an_error", func(t *testing.T) {
			err := c.CreateCollection(ctx, &qdrant.CreateCollection{
				CollectionName: name,
				VectorsConfig:  qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 8, Distance: qdrant.Distance_Cosine}),
			})
			wantCode(t, err, codes.InvalidArgument, codes.AlreadyExists)
			info, err := c.GetCollectionInfo(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.GetConfig().GetParams().GetVectorsConfig().GetParams().GetSize(); got != 4 {
				t.Fatalf("size after refused re-create = %d, want 4", got)
			}
		})
		t.Run("get_reports_vector_params_and_count", func(t *testing.T) {
			upsert(t, c, name, pt(1, []float32{1, 0, 0, 0}, nil))
			info, err := c.GetCollectionInfo(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			params := info.GetConfig().GetParams().GetVectorsConfig().GetParams()
			if params.GetSize() != 4 || params.GetDistance() != qdrant.Distance_Cosine {
				t.Fatalf("params = %v", params)
			}
			if info.GetPointsCount() != 1 {
				t.Fatalf("points count = %d, want 1", info.GetPointsCount())
			}
		})
		t.Run("get_missing_is_not_found", func(t *testing.T) {
			_, err := c.GetCollectionInfo(ctx, name+"_missing")
			wantCode(t, err, codes.NotFound)
		})
		t.Run("field_index_is_in_payload_schema", func(t *testing.T) {
			_, err := c.CreateFieldIndex(ctx, &qdrant.CreateFieldIndexCollection{
				CollectionName:   name,
				Wait:             qdrant.PtrOf(true),
				FieldName:        "namespace",
				FieldType:        qdrant.FieldType_FieldTypeKeyword.Enum(),
				FieldIndexParams: qdrant.NewPayloadIndexParamsKeyword(&qdrant.KeywordIndexParams{IsTenant: qdrant.PtrOf(true)}),
			})
			if err != nil {
				t.Fatal(err)
			}
			info, err := c.GetCollectionInfo(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			got := info.GetPayloadSchema()["namespace"]
			if got.GetDataType() != qdrant.PayloadSchemaType_Keyword || !got.GetParams().GetKeywordIndexParams().GetIsTenant() {
				t.Fatalf("schema[namespace] = %v", got)
			}
		})
		t.Run("delete", func(t *testing.T) {
			other := newCollection(t, c, 2, qdrant.Distance_Dot)
			if err := c.DeleteCollection(ctx, other); err != nil {
				t.Fatal(err)
			}
			if ok, _ := c.CollectionExists(ctx, other); ok {
				t.Fatal("collection still exists after delete")
			}
			// Qdrant answers result=false for a missing collection, which
			// the client reports as an error.
			if err := c.DeleteCollection(ctx, other); err == nil {
				t.Fatal("deleting a missing collection succeeded")
			}
		})
	})
}

func TestAliases(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, c *qdrant.Client) {
		g1 := newCollection(t, c, 2, qdrant.Distance_Cosine)
		g2 := newCollection(t, c, 2, qdrant.Distance_Cosine)
		alias := qdrantfake.UniqueName(t, "alias")
		t.Cleanup(func() { _ = c.DeleteAlias(ctx, alias) })

		if err := c.CreateAlias(ctx, alias, g1); err != nil {
			t.Fatal(err)
		}
		t.Run("operations_resolve_the_alias", func(t *testing.T) {
			upsert(t, c, alias, pt(1, []float32{1, 0}, map[string]any{"gen": 1}))
			n, err := c.Count(ctx, &qdrant.CountPoints{CollectionName: g1, Exact: qdrant.PtrOf(true)})
			if err != nil || n != 1 {
				t.Fatalf("count in %s = %d, %v; want 1", g1, n, err)
			}
			ok, err := c.CollectionExists(ctx, alias)
			if err != nil || !ok {
				t.Fatalf("alias exists = %v, %v", ok, err)
			}
			info, err := c.GetCollectionInfo(ctx, alias)
			if err != nil || info.GetPointsCount() != 1 {
				t.Fatalf("info via alias = %v, %v", info, err)
			}
		})
		t.Run("switch_in_one_request", func(t *testing.T) {
			upsert(t, c, g2, pt(2, []float32{0, 1}, nil), pt(3, []float32{0, 1}, nil))
			err := c.UpdateAliases(ctx, []*qdrant.AliasOperations{qdrant.NewAliasDelete(alias), qdrant.NewAliasCreate(alias, g2)})
			if err != nil {
				t.Fatal(err)
			}
			n, err := c.Count(ctx, &qdrant.CountPoints{CollectionName: alias, Exact: qdrant.PtrOf(true)})
			if err != nil || n != 2 {
				t.Fatalf("count via switched alias = %d, %v; want 2", n, err)
			}
			got, err := c.ListCollectionAliases(ctx, g2)
			if err != nil || !slices.Contains(got, alias) {
				t.Fatalf("aliases of %s = %v, %v", g2, got, err)
			}
		})
		t.Run("list_aliases", func(t *testing.T) {
			all, err := c.ListAliases(ctx)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(all, func(a *qdrant.AliasDescription) bool { return a.GetAliasName() == alias })
			if i < 0 || all[i].GetCollectionName() != g2 {
				t.Fatalf("ListAliases has no %s -> %s: %v", alias, g2, all)
			}
		})
		t.Run("rename", func(t *testing.T) {
			renamed := alias + "_renamed"
			if err := c.RenameAlias(ctx, alias, renamed); err != nil {
				t.Fatal(err)
			}
			if ok, _ := c.CollectionExists(ctx, alias); ok {
				t.Fatal("old alias still resolves")
			}
			if ok, _ := c.CollectionExists(ctx, renamed); !ok {
				t.Fatal("new alias does not resolve")
			}
			if err := c.RenameAlias(ctx, renamed, alias); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("alias_to_missing_collection_is_refused", func(t *testing.T) {
			err := c.CreateAlias(ctx, alias+"_x", g1+"_missing")
			wantCode(t, err, codes.NotFound)
		})
		t.Run("collection_named_like_an_alias_is_refused", func(t *testing.T) {
			err := c.CreateCollection(ctx, &qdrant.CreateCollection{
				CollectionName: alias,
				VectorsConfig:  qdrant.NewVectorsConfig(&qdrant.VectorParams{Size: 2, Distance: qdrant.Distance_Cosine}),
			})
			wantCode(t, err, codes.InvalidArgument, codes.AlreadyExists)
		})
		t.Run("deleting_the_collection_drops_its_aliases", func(t *testing.T) {
			if err := c.DeleteCollection(ctx, g2); err != nil {
				t.Fatal(err)
			}
			if ok, _ := c.CollectionExists(ctx, alias); ok {
				t.Fatal("alias of a deleted collection still resolves")
			}
		})
	})
}

func TestPoints(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, c *qdrant.Client) {
		t.Run("cosine_vectors_are_stored_normalised", func(t *testing.T) {
			name := newCollection(t, c, 2, qdrant.Distance_Cosine)
			upsert(t, c, name, pt(1, []float32{3, 4}, nil))
			got, err := c.Get(ctx, &qdrant.GetPoints{
				CollectionName: name,
				Ids:            []*qdrant.PointId{qdrant.NewIDNum(1)},
				WithVectors:    qdrant.NewWithVectors(true),
			})
			if err != nil || len(got) != 1 {
				t.Fatalf("get = %v, %v", got, err)
			}
			vec := got[0].GetVectors().GetVector().GetDenseVector().GetData()
			if len(vec) != 2 || math.Abs(float64(vec[0])-0.6) > 1e-6 || math.Abs(float64(vec[1])-0.8) > 1e-6 {
				t.Fatalf("vector = %v, want [0.6 0.8]", vec)
			}
		})
		t.Run("dot_vectors_are_stored_as_given", func(t *testing.T) {
			name := newCollection(t, c, 2, qdrant.Distance_Dot)
			upsert(t, c, name, pt(1, []float32{3, 4}, nil))
			got, err := c.Get(ctx, &qdrant.GetPoints{CollectionName: name, Ids: []*qdrant.PointId{qdrant.NewIDNum(1)}, WithVectors: qdrant.NewWithVectors(true)})
			if err != nil || len(got) != 1 {
				t.Fatalf("get = %v, %v", got, err)
			}
			if vec := got[0].GetVectors().GetVector().GetDenseVector().GetData(); !slices.Equal(vec, []float32{3, 4}) {
				t.Fatalf("vector = %v, want [3 4]", vec)
			}
		})
		t.Run("wrong_dimension_is_refused_and_writes_nothing", func(t *testing.T) {
			name := newCollection(t, c, 3, qdrant.Distance_Cosine)
			_, err := c.Upsert(ctx, &qdrant.UpsertPoints{
				CollectionName: name,
				Wait:           qdrant.PtrOf(true),
				Points:         []*qdrant.PointStruct{pt(1, []float32{1, 0, 0}, nil), pt(2, []float32{1, 0}, nil)},
			})
			wantCode(t, err, codes.InvalidArgument)
			n, err := c.Count(ctx, &qdrant.CountPoints{CollectionName: name, Exact: qdrant.PtrOf(true)})
			if err != nil || n != 0 {
				t.Fatalf("count after refused upsert = %d, %v; want 0", n, err)
			}
		})
		t.Run("uuid_ids_read_back_canonical", func(t *testing.T) {
			name := newCollection(t, c, 2, qdrant.Distance_Cosine)
			id := uuid.New()
			upsert(t, c, name, &qdrant.PointStruct{
				Id:      qdrant.NewIDUUID(strings.ToUpper(id.String())),
				Vectors: qdrant.NewVectors(1, 0),
			})
			got, err := c.Get(ctx, &qdrant.GetPoints{CollectionName: name, Ids: []*qdrant.PointId{qdrant.NewIDUUID(id.String())}})
			if err != nil || len(got) != 1 {
				t.Fatalf("get = %v, %v", got, err)
			}
			if got[0].GetId().GetUuid() != id.String() {
				t.Fatalf("id = %q, want %q", got[0].GetId().GetUuid(), id.String())
			}
		})
		t.Run("upsert_replaces_the_whole_payload", func(t *testing.T) {
			name := newCollection(t, c, 2, qdrant.Distance_Cosine)
			upsert(t, c, name, pt(1, []float32{1, 0}, map[string]any{"a": 1, "b": "x"}))
			upsert(t, c, name, pt(1, []float32{0, 1}, map[string]any{"a": 2}))
			got, err := c.Get(ctx, &qdrant.GetPoints{CollectionName: name, Ids: []*qdrant.PointId{qdrant.NewIDNum(1)}, WithPayload: qdrant.NewWithPayload(true)})
			if err != nil || len(got) != 1 {
				t.Fatalf("get = %v, %v", got, err)
			}
			p := got[0].GetPayload()
			if len(p) != 1 || p["a"].GetIntegerValue() != 2 {
				t.Fatalf("payload = %v, want {a: 2}", p)
			}
		})
		t.Run("get_skips_missing_ids", func(t *testing.T) {
			name := newCollection(t, c, 2, qdrant.Distance_Cosine)
			upsert(t, c, name, pt(1, []float32{1, 0}, nil))
			got, err := c.Get(ctx, &qdrant.GetPoints{CollectionName: name, Ids: []*qdrant.PointId{qdrant.NewIDNum(1), qdrant.NewIDNum(2)}})
			if err != nil || !slices.Equal(ids(got), []uint64{1}) {
				t.Fatalf("get = %v, %v", ids(got), err)
			}
		})
		t.Run("delete_by_ids_and_by_filter", func(t *testing.T) {
			name := newCollection(t, c, 2, qdrant.Distance_Cosine)
			upsert(t, c, name,
				pt(1, []float32{1, 0}, map[string]any{"ns": "a"}),
				pt(2, []float32{1, 0}, map[string]any{"ns": "a"}),
				pt(3, []float32{1, 0}, map[string]any{"ns": "b"}),
				pt(4, []float32{1, 0}, map[string]any{"ns": "b"}),
			)
			_, err := c.Delete(ctx, &qdrant.DeletePoints{CollectionName: name, Wait: qdrant.PtrOf(true),
				Points: qdrant.NewPointsSelector(qdrant.NewIDNum(1), qdrant.NewIDNum(99))})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Delete(ctx, &qdrant.DeletePoints{CollectionName: name, Wait: qdrant.PtrOf(true),
				Points: qdrant.NewPointsSelectorFilter(&qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword("ns", "b")}})})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Scroll(ctx, &qdrant.ScrollPoints{CollectionName: name})
			if err != nil || !slices.Equal(ids(got), []uint64{2}) {
				t.Fatalf("left = %v, %v; want [2]", ids(got), err)
			}
		})
		t.Run("set_payload_merges_and_needs_existing_ids", func(t *testing.T) {
			name := newCollection(t, c, 2, qdrant.Distance_Cosine)
			upsert(t, c, name, pt(1, []float32{1, 0}, map[string]any{"a": 1, "b": 1}))
			_, err := c.SetPayload(ctx, &qdrant.SetPayloadPoints{CollectionName: name, Wait: qdrant.PtrOf(true),
				Payload: qdrant.NewValueMap(map[string]any{"b": 2}), PointsSelector: qdrant.NewPointsSelector(qdrant.NewIDNum(1))})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Get(ctx, &qdrant.GetPoints{CollectionName: name, Ids: []*qdrant.PointId{qdrant.NewIDNum(1)}, WithPayload: qdrant.NewWithPayload(true)})
			if err != nil || got[0].GetPayload()["a"].GetIntegerValue() != 1 || got[0].GetPayload()["b"].GetIntegerValue() != 2 {
				t.Fatalf("payload = %v, %v", got, err)
			}
			_, err = c.SetPayload(ctx, &qdrant.SetPayloadPoints{CollectionName: name, Wait: qdrant.PtrOf(true),
				Payload: qdrant.NewValueMap(map[string]any{"b": 3}), PointsSelector: qdrant.NewPointsSelector(qdrant.NewIDNum(7))})
			if err == nil {
				t.Fatal("set payload on a missing id succeeded")
			}
			// By filter, a missing point is simply not matched.
			_, err = c.SetPayload(ctx, &qdrant.SetPayloadPoints{CollectionName: name, Wait: qdrant.PtrOf(true),
				Payload:        qdrant.NewValueMap(map[string]any{"b": 3}),
				PointsSelector: qdrant.NewPointsSelectorFilter(&qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewHasID(qdrant.NewIDNum(7))}})})
			if err != nil {
				t.Fatal(err)
			}
		})
		t.Run("scroll_pages_in_id_order", func(t *testing.T) {
			name := newCollection(t, c, 2, qdrant.Distance_Cosine)
			for _, id := range []uint64{5, 3, 1, 4, 2} {
				upsert(t, c, name, pt(id, []float32{1, 0}, map[string]any{"odd": id%2 == 1}))
			}
			page, next, err := c.ScrollAndOffset(ctx, &qdrant.ScrollPoints{CollectionName: name, Limit: qdrant.PtrOf(uint32(2))})
			if err != nil || !slices.Equal(ids(page), []uint64{1, 2}) || next.GetNum() != 3 {
				t.Fatalf("page 1 = %v next %v, %v", ids(page), next, err)
			}
			page, next, err = c.ScrollAndOffset(ctx, &qdrant.ScrollPoints{CollectionName: name, Limit: qdrant.PtrOf(uint32(2)), Offset: next})
			if err != nil || !slices.Equal(ids(page), []uint64{3, 4}) || next.GetNum() != 5 {
				t.Fatalf("page 2 = %v next %v, %v", ids(page), next, err)
			}
			page, next, err = c.ScrollAndOffset(ctx, &qdrant.ScrollPoints{CollectionName: name, Limit: qdrant.PtrOf(uint32(2)), Offset: next})
			if err != nil || !slices.Equal(ids(page), []uint64{5}) || next != nil {
				t.Fatalf("page 3 = %v next %v, %v", ids(page), next, err)
			}
			page, err = c.Scroll(ctx, &qdrant.ScrollPoints{CollectionName: name,
				Filter: &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchBool("odd", true)}}})
			if err != nil || !slices.Equal(ids(page), []uint64{1, 3, 5}) {
				t.Fatalf("filtered = %v, %v", ids(page), err)
			}
		})
	})
}

func TestFilters(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, c *qdrant.Client) {
		name := newCollection(t, c, 2, qdrant.Distance_Cosine)
		upsert(t, c, name,
			pt(1, []float32{1, 0}, map[string]any{"namespace": "a", "memory_type": "episodic",
				"payload": map[string]any{"kind": "note", "n": 3, "x": 1.5, "tags": []any{"red", "blue"}}}),
			pt(2, []float32{1, 0}, map[string]any{"namespace": "a", "memory_type": "semantic",
				"payload": map[string]any{"kind": "fact", "n": 3.0, "empty": []any{}, "nothing": nil}}),
			pt(3, []float32{1, 0}, map[string]any{"namespace": "b", "memory_type": "episodic",
				"payload": map[string]any{"kind": "note", "n": 4, "flag": true, "dotted.key": "yes"}}),
		)
		must := func(conds ...*qdrant.Condition) *qdrant.Filter { return &qdrant.Filter{Must: conds} }
		rng := func(key string, r *qdrant.Range) *qdrant.Condition { return qdrant.NewRange(key, r) }
		f := func(v float64) *float64 { return &v }
		cases := []struct {
			name   string
			filter *qdrant.Filter
			want   []uint64
		}{
			{"keyword", must(qdrant.NewMatchKeyword("namespace", "a")), []uint64{1, 2}},
			{"keyword_and_type", must(qdrant.NewMatchKeyword("namespace", "a"), qdrant.NewMatchKeyword("memory_type", "episodic")), []uint64{1}},
			{"nested_key", must(qdrant.NewMatchKeyword("payload.kind", "note")), []uint64{1, 3}},
			{"quoted_key", must(qdrant.NewMatchKeyword(`payload."dotted.key"`, "yes")), []uint64{3}},
			{"integer_match_skips_doubles", must(qdrant.NewMatchInt("payload.n", 3)), []uint64{1}},
			{"range_compares_numbers", must(rng("payload.n", &qdrant.Range{Gte: f(3), Lte: f(3)})), []uint64{1, 2}},
			{"range_gt_lt", must(rng("payload.n", &qdrant.Range{Gt: f(3), Lt: f(5)})), []uint64{3}},
			{"range_on_double", must(rng("payload.x", &qdrant.Range{Gte: f(1.5), Lte: f(1.5)})), []uint64{1}},
			{"range_on_string_does_not_match", must(rng("payload.kind", &qdrant.Range{Gte: f(0)})), []uint64{}},
			{"bool", must(qdrant.NewMatchBool("payload.flag", true)), []uint64{3}},
			{"array_any_element", must(qdrant.NewMatchKeyword("payload.tags", "blue")), []uint64{1}},
			{"keywords_any", must(qdrant.NewMatchKeywords("payload.kind", "fact", "other")), []uint64{2}},
			{"except_keywords", must(qdrant.NewMatchExceptKeywords("payload.kind", "note")), []uint64{2}},
			{"missing_key_does_not_match", must(qdrant.NewMatchKeyword("payload.absent", "x")), []uint64{}},
			{"must_not", &qdrant.Filter{MustNot: []*qdrant.Condition{qdrant.NewMatchKeyword("namespace", "a")}}, []uint64{3}},
			{"should", &qdrant.Filter{Should: []*qdrant.Condition{qdrant.NewMatchKeyword("payload.kind", "fact"), qdrant.NewMatchBool("payload.flag", true)}}, []uint64{2, 3}},
			{"must_and_should", &qdrant.Filter{
				Must:   []*qdrant.Condition{qdrant.NewMatchKeyword("namespace", "a")},
				Should: []*qdrant.Condition{qdrant.NewMatchKeyword("payload.kind", "note"), qdrant.NewMatchKeyword("payload.kind", "none")}}, []uint64{1}},
			{"nested_filter", must(qdrant.NewFilterAsCondition(&qdrant.Filter{Should: []*qdrant.Condition{
				qdrant.NewMatchKeyword("namespace", "b"), qdrant.NewMatchKeyword("memory_type", "semantic")}})), []uint64{2, 3}},
			{"is_empty_missing_or_empty_array_or_null", must(qdrant.NewIsEmpty("payload.empty")), []uint64{1, 2, 3}},
			{"is_empty_false_for_values", must(qdrant.NewIsEmpty("payload.tags")), []uint64{2, 3}},
			{"is_empty_null", must(qdrant.NewIsEmpty("payload.nothing")), []uint64{1, 2, 3}},
			{"is_null", must(qdrant.NewIsNull("payload.nothing")), []uint64{2}},
			{"has_id", must(qdrant.NewHasID(qdrant.NewIDNum(1), qdrant.NewIDNum(3))), []uint64{1, 3}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := c.Scroll(ctx, &qdrant.ScrollPoints{CollectionName: name, Filter: tc.filter})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids(got), tc.want) {
					t.Fatalf("scroll ids = %v, want %v", ids(got), tc.want)
				}
				n, err := c.Count(ctx, &qdrant.CountPoints{CollectionName: name, Filter: tc.filter, Exact: qdrant.PtrOf(true)})
				if err != nil || n != uint64(len(tc.want)) {
					t.Fatalf("count = %d, %v; want %d", n, err, len(tc.want))
				}
			})
		}
	})
}

func TestQuery(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, c *qdrant.Client) {
		name := newCollection(t, c, 2, qdrant.Distance_Cosine)
		// Many points of namespace "a" close to the query, one of "b" far
		// from it: a filter applied after the limit would find nothing.
		var points []*qdrant.PointStruct
		for i := uint64(1); i <= 30; i++ {
			points = append(points, pt(i, []float32{1, float32(i) / 100}, map[string]any{"namespace": "a", "memory_type": "episodic"}))
		}
		points = append(points,
			pt(100, []float32{-1, 0.2}, map[string]any{"namespace": "b", "memory_type": "semantic", "payload": map[string]any{"n": 7}}),
			pt(101, []float32{0, 1}, map[string]any{"namespace": "b", "memory_type": "episodic", "payload": map[string]any{"n": 7.0}}),
		)
		upsert(t, c, name, points...)

		query := func(t *testing.T, req *qdrant.QueryPoints) []*qdrant.ScoredPoint {
			t.Helper()
			req.CollectionName = name
			got, err := c.Query(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		t.Run("scores_are_cosine_highest_first", func(t *testing.T) {
			got := query(t, &qdrant.QueryPoints{Query: qdrant.NewQuery(2, 0), Limit: qdrant.PtrOf(uint64(3))})
			if !slices.Equal(ids(got), []uint64{1, 2, 3}) {
				t.Fatalf("ids = %v", ids(got))
			}
			want := 1 / math.Sqrt(1+0.0001)
			if math.Abs(float64(got[0].GetScore())-want) > 1e-5 {
				t.Fatalf("score = %v, want %v", got[0].GetScore(), want)
			}
		})
		t.Run("filter_applies_before_limit", func(t *testing.T) {
			got := query(t, &qdrant.QueryPoints{
				Query:  qdrant.NewQuery(1, 0),
				Filter: &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword("namespace", "b"), qdrant.NewMatchKeyword("memory_type", "semantic")}},
				Limit:  qdrant.PtrOf(uint64(1)),
			})
			if !slices.Equal(ids(got), []uint64{100}) {
				t.Fatalf("ids = %v, want [100]", ids(got))
			}
			if got[0].GetScore() >= 0 {
				t.Fatalf("score = %v, want negative cosine", got[0].GetScore())
			}
		})
		t.Run("payload_number_filter_is_numeric", func(t *testing.T) {
			got := query(t, &qdrant.QueryPoints{
				Query: qdrant.NewQuery(1, 0),
				Filter: &qdrant.Filter{Must: []*qdrant.Condition{
					qdrant.NewMatchKeyword("namespace", "b"),
					qdrant.NewRange("payload.n", &qdrant.Range{Gte: qdrant.PtrOf(7.0), Lte: qdrant.PtrOf(7.0)}),
				}},
			})
			if !slices.Equal(ids(got), []uint64{101, 100}) {
				t.Fatalf("ids = %v, want [101 100]", ids(got))
			}
		})
		t.Run("score_threshold_and_offset", func(t *testing.T) {
			got := query(t, &qdrant.QueryPoints{Query: qdrant.NewQuery(0, 1), ScoreThreshold: qdrant.PtrOf(float32(0.5)), Limit: qdrant.PtrOf(uint64(100))})
			if !slices.Equal(ids(got), []uint64{101}) {
				t.Fatalf("ids above 0.5 = %v, want [101]", ids(got))
			}
			got = query(t, &qdrant.QueryPoints{Query: qdrant.NewQuery(2, 0), Limit: qdrant.PtrOf(uint64(2)), Offset: qdrant.PtrOf(uint64(1))})
			if !slices.Equal(ids(got), []uint64{2, 3}) {
				t.Fatalf("ids with offset = %v, want [2 3]", ids(got))
			}
		})
		t.Run("with_payload", func(t *testing.T) {
			got := query(t, &qdrant.QueryPoints{Query: qdrant.NewQuery(0, 1), Limit: qdrant.PtrOf(uint64(1)), WithPayload: qdrant.NewWithPayload(true)})
			if got[0].GetPayload()["namespace"].GetStringValue() != "b" {
				t.Fatalf("payload = %v", got[0].GetPayload())
			}
			got = query(t, &qdrant.QueryPoints{Query: qdrant.NewQuery(0, 1), Limit: qdrant.PtrOf(uint64(1)), WithPayload: qdrant.NewWithPayload(false)})
			if len(got[0].GetPayload()) != 0 {
				t.Fatalf("payload without with_payload = %v", got[0].GetPayload())
			}
		})
		t.Run("wrong_query_dimension_is_refused", func(t *testing.T) {
			_, err := c.Query(ctx, &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQuery(1, 0, 0)})
			wantCode(t, err, codes.InvalidArgument)
		})
		t.Run("search_matches_query", func(t *testing.T) {
			got, err := c.GetPointsClient().Search(ctx, &qdrant.SearchPoints{
				CollectionName: name,
				Vector:         []float32{1, 0},
				Filter:         &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword("namespace", "b")}},
				Limit:          1,
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got.GetResult()), []uint64{101}) {
				t.Fatalf("ids = %v, want [101]", ids(got.GetResult()))
			}
		})
	})
}

// The double refuses what it does not implement rather than pretending.
func TestUnimplementedCallsSaySo(t *testing.T) {
	ctx := context.Background()
	c := qdrantfake.Connect(t, qdrantfake.Start(t))
	name := newCollection(t, c, 2, qdrant.Distance_Cosine)
	_, err := c.Query(ctx, &qdrant.QueryPoints{CollectionName: name, Query: qdrant.NewQueryFusion(qdrant.Fusion_RRF)})
	wantCode(t, err, codes.Unimplemented)
	_, err = c.Scroll(ctx, &qdrant.ScrollPoints{CollectionName: name,
		Filter: &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchText("payload.kind", "x")}}})
	wantCode(t, err, codes.Unimplemented)
	_, err = c.GetPointsClient().Recommend(ctx, &qdrant.RecommendPoints{CollectionName: name})
	wantCode(t, err, codes.Unimplemented)
}

func TestHealthCheck(t *testing.T) {
	c := qdrantfake.Connect(t, qdrantfake.Start(t))
	reply, err := c.HealthCheck(context.Background())
	if err != nil || reply.GetVersion() != qdrantfake.Version {
		t.Fatalf("health = %v, %v", reply, err)
	}
}

func TestSplitAddr(t *testing.T) {
	cases := []struct {
		in   string
		host string
		port int
		tls  bool
	}{
		{"localhost:6334", "localhost", 6334, false},
		{"http://qdrant:7000", "qdrant", 7000, false},
		{"https://q.example/", "q.example", 6334, true},
		{"qdrant", "qdrant", 6334, false},
	}
	for _, tc := range cases {
		cfg, err := qdrantfake.SplitAddr(tc.in)
		if err != nil || cfg.Host != tc.host || cfg.Port != tc.port || cfg.UseTLS != tc.tls {
			t.Errorf("SplitAddr(%q) = %+v, %v", tc.in, cfg, err)
		}
	}
}
