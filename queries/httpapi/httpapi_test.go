package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/internal/embedding"
	"github.com/somafractalmemory/soma/internal/httpx"
	"github.com/somafractalmemory/soma/queries"
	"github.com/somafractalmemory/soma/queries/httpapi"
)

func init() { gin.SetMode(gin.TestMode) }

const ns = "default"

type env struct {
	srv   *httpx.Server
	world *world
	emb   *embedder
	qd    *positions
}

func c(vals ...float64) domain.Coordinate { return domain.MustCoordinate(vals...) }

// newEnv serves the query routes over a seeded world:
//
//	1   episodic, cosine 1.0 with [1,0,0], team x, n 1.0
//	2   semantic, cosine 0.8, team y
//	3   episodic, cosine 0.6, team y
//	links 1→2 (related, 1), 2→3 (related, 1), 1→3 (shortcut, 5)
func newEnv(t *testing.T, mutate func(*queries.Deps)) env {
	t.Helper()
	w := newWorld()
	w.put(ns, c(1), domain.Episodic, 1, []float32{1, 0, 0}, map[string]any{"text": "one", "team": "x", "n": json.Number("1.0"), "timestamp": json.Number("1700000000.5")})
	w.put(ns, c(2), domain.Semantic, 1, []float32{0.8, 0.6, 0}, map[string]any{"text": "two", "team": "y", "importance": json.Number("3")})
	w.put(ns, c(3), domain.Episodic, 1, []float32{0.6, 0.8, 0}, map[string]any{"text": "três <&>", "team": "y", "timestamp": json.Number("1700000100")})
	w.put("other", c(9), domain.Episodic, 1, []float32{1, 0, 0}, map[string]any{"text": "elsewhere"})
	w.link(ns, c(1), c(2), "related", 1)
	w.link(ns, c(2), c(3), "related", 1)
	w.link(ns, c(1), c(3), "shortcut", 5)
	emb := &embedder{vecs: map[string][]float32{"toward 3": {0.6, 0.8, 0}}}
	qd := &positions{pos: map[int32]int64{0: 10}}
	waiter, err := queries.NewWaiter(queries.WaiterConfig{
		Readers: map[string]queries.PositionReader{"qdrant": qd, "postgres": &positions{pos: map[int32]int64{0: 100}}},
		Roles: map[queries.Role][]string{queries.RoleVectors: {"qdrant"}, queries.RoleRecords: {"postgres"}, queries.RoleGraph: {"postgres"},
			queries.RoleRanges: {"postgres"}, queries.RoleCounters: {"postgres"}, queries.RoleExport: {"postgres"}, queries.RoleHistory: {"postgres"}},
		Timeout: 20 * time.Millisecond, PollMin: time.Millisecond, PollMax: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	d := queries.Deps{
		Embedder: emb, Vectors: w, Records: []queries.RecordStore{w}, Graph: w, Ranges: w, Counters: []queries.Counter{w},
		Exporter: w, History: w, Consistency: waiter,
	}
	if mutate != nil {
		mutate(&d)
	}
	cfg := httpx.DefaultConfig()
	cfg.RateLimit.Max = 0
	srv, err := httpx.New(cfg, httpx.Deps{Registry: prometheus.NewRegistry(), OpenAPI: httpapi.OpenAPI()})
	if err != nil {
		t.Fatal(err)
	}
	httpapi.Register(srv.API, queries.NewApplication(d), httpapi.Options{ExportFlushEvery: 2})
	return env{srv: srv, world: w, emb: emb, qd: qd}
}

func (e env) do(t *testing.T, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	return w
}

func decode(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("body %q: %v", w.Body.String(), err)
	}
	return m
}

// coordsOf returns the "coordinate" of each record of a list, as "1", "2".
func coordsOf(t *testing.T, v any) []string {
	t.Helper()
	out := []string{}
	for _, r := range v.([]any) {
		rec := r.(map[string]any)
		if p, ok := rec["payload"]; ok {
			rec = p.(map[string]any)
		}
		out = append(out, fmt.Sprint(rec["coordinate"]))
	}
	return out
}

func TestRequests(t *testing.T) {
	e := newEnv(t, nil)
	cases := []struct {
		name, method, target, body string
		status                     int
		want                       string // substring of the body
	}{
		// recall
		{"recall_orders_by_score", "POST", "/recall", `{"query":"q"}`, 200, `"coordinate":[1]`},
		{"recall_rejects_top_k_zero", "POST", "/recall", `{"query":"q","top_k":0}`, 422, `"loc":["body","top_k"]`},
		{"recall_rejects_top_k_over_1000", "POST", "/recall", `{"query":"q","top_k":1001}`, 422, `"loc":["body","top_k"]`},
		{"recall_rejects_unknown_type", "POST", "/recall", `{"query":"q","type":"procedural"}`, 422, `"loc":["body","type"]`},
		{"recall_accepts_null_type", "POST", "/recall", `{"query":"q","type":null}`, 200, `"matches":[`},
		{"recall_rejects_object_filter", "POST", "/recall", `{"query":"q","filters":{"team":{"$ne":1}}}`, 422, `"loc":["body","filters","team"]`},
		{"recall_rejects_non_object_filters", "POST", "/recall", `{"query":"q","filters":[1]}`, 422, `dict_type`},
		{"recall_requires_query", "POST", "/recall", `{"top_k":1}`, 422, `"loc":["body","query"]`},
		{"recall_rejects_malformed_json", "POST", "/recall", `{"query":`, 422, `json_invalid`},
		{"recall_rejects_empty_body", "POST", "/recall", ``, 422, `missing`},
		{"recall_rejects_fractional_top_k", "POST", "/recall", `{"query":"q","top_k":2.5}`, 422, `"loc":["body","top_k"]`},
		{"recall_batch_requires_queries", "POST", "/recall_batch", `{}`, 422, `"loc":["body","queries"]`},
		{"recall_batch_empty", "POST", "/recall_batch", `{"queries":[]}`, 200, `{"batches":[]}`},
		{"scores_require_query", "POST", "/recall_with_scores", ``, 422, `"loc":["query","query"]`},
		{"scores_reject_bad_top_k_param", "POST", "/recall_with_scores?query=q&top_k=abc", ``, 422, `int_parsing`},
		{"scores_top_k_param_loc", "POST", "/recall_with_scores?query=q&top_k=0", ``, 422, `"loc":["query","top_k"]`},
		{"scores_top_k_body_loc", "POST", "/recall_with_scores?query=q", `{"top_k":0}`, 422, `"loc":["body","top_k"]`},
		{"context_requires_query", "POST", "/recall_with_context", `{}`, 422, `"loc":["query","query"]`},
		{"context_requires_body", "POST", "/recall_with_context?query=q", ``, 422, `"loc":["body"]`},
		{"context_rejects_non_object_body", "POST", "/recall_with_context?query=q", `[1]`, 422, `dict_type`},
		{"context_rejects_bad_type", "POST", "/recall_with_context?query=q&type=x", `{}`, 422, `"loc":["query","type"]`},
		// range
		{"range_empty_bounds_match_everything", "GET", "/range?min=&max=", ``, 200, `{"coords":[[1],[2],[3]]}`},
		{"range_absent_bounds_match_everything", "GET", "/range", ``, 200, `{"coords":[[1],[2],[3]]}`},
		{"range_inclusive", "GET", "/range?min=2&max=3&type=episodic", ``, 200, `{"coords":[[3]]}`},
		{"range_rejects_bad_coordinate", "GET", "/range?min=1,x", ``, 400, `not a number`},
		{"range_rejects_nan", "GET", "/range?max=NaN", ``, 400, `not finite`},
		{"range_rejects_bad_type", "GET", "/range?type=x", ``, 422, `"loc":["query","type"]`},
		// graph
		{"neighbors_shape", "GET", "/neighbors?coord=1", ``, 200, `{"neighbors":[[[2],{"to":[2],"type":"related","weight":1,"timestamp":1700000000.25}],[[3],{"to":[3],"type":"shortcut","weight":5,"timestamp":1700000000.25}]]}`},
		{"neighbors_type_filter_then_limit", "GET", "/neighbors?coord=1&link_type=shortcut&limit=1", ``, 200, `"type":"shortcut"`},
		{"neighbors_limit_zero_is_empty", "GET", "/neighbors?coord=1&limit=0", ``, 200, `{"neighbors":[]}`},
		{"neighbors_unknown_coordinate_is_empty", "GET", "/neighbors?coord=42", ``, 200, `{"neighbors":[]}`},
		{"neighbors_require_coord", "GET", "/neighbors", ``, 422, `"loc":["query","coord"]`},
		{"neighbors_reject_bad_coord", "GET", "/neighbors?coord=a", ``, 400, `coord: invalid coordinate`},
		{"neighbors_reject_bad_limit", "GET", "/neighbors?coord=1&limit=many", ``, 422, `"loc":["query","limit"]`},
		{"path_prefers_cheaper_longer_path", "GET", "/shortest_path?frm=1&to=3", ``, 200, `{"path":[[1],[2],[3]]}`},
		{"path_follows_link_type", "GET", "/shortest_path?frm=1&to=3&link_type=shortcut", ``, 200, `{"path":[[1],[3]]}`},
		{"path_is_directed", "GET", "/shortest_path?frm=3&to=1", ``, 200, `{"path":[]}`},
		{"path_same_node", "GET", "/shortest_path?frm=2.0&to=2", ``, 200, `{"path":[[2]]}`},
		{"path_unknown_node_is_empty", "GET", "/shortest_path?frm=1&to=77", ``, 200, `{"path":[]}`},
		{"path_requires_both_ends", "GET", "/shortest_path?frm=1", ``, 422, `"loc":["query","to"]`},
		// misc
		{"stats", "GET", "/stats", ``, 200, `{"episodic":2,"semantic":1,"total_memories":3}`},
		{"memory_found", "GET", "/memory?coord=2", ``, 200, `"importance":3`},
		{"memory_missing_is_404", "GET", "/memory?coord=5", ``, 404, `{"detail":"memory not found at coordinate [5]"}`},
		{"history", "GET", "/history?coord=1", ``, 200, `"events":[{"event_id":"e-1","event_type":"MemoryStored","occurred_at":"2024-01-02T03:04:05Z","source":"memory.events","partition":2,"offset":9`},
		{"history_rejects_limit_zero", "GET", "/history?coord=1&limit=0", ``, 422, `"loc":["query","limit"]`},
		{"invalid_consistency_token_is_400", "GET", "/stats?consistency_token=nope", ``, 400, `invalid consistency token`},
		{"unknown_route_is_json_404", "GET", "/nope", ``, 404, `"detail":"Not Found"`},
		{"wrong_method_is_json_405", "GET", "/recall", ``, 405, `"detail":"Method Not Allowed"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(t, tc.method, tc.target, tc.body)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.want) {
				t.Fatalf("got %d %s; want %d containing %s", w.Code, w.Body.String(), tc.status, tc.want)
			}
		})
	}
}

func TestRecallAnswers(t *testing.T) {
	e := newEnv(t, nil)
	t.Run("records_best_first", func(t *testing.T) {
		m := decode(t, e.do(t, "POST", "/recall", `{"query":"q","top_k":2}`))
		if got := coordsOf(t, m["matches"]); !reflect.DeepEqual(got, []string{"[1]", "[2]"}) {
			t.Fatalf("%v", got)
		}
		rec := m["matches"].([]any)[0].(map[string]any)
		if rec["memory_type"] != "episodic" || rec["importance_norm"] != float64(1) || rec["text"] != "one" || rec["timestamp"] != 1700000000.5 {
			t.Fatalf("record %v", rec)
		}
	})
	t.Run("filters_before_top_k_with_numeric_equality", func(t *testing.T) {
		m := decode(t, e.do(t, "POST", "/recall", `{"query":"q","top_k":1,"filters":{"team":"y"}}`))
		if got := coordsOf(t, m["matches"]); !reflect.DeepEqual(got, []string{"[2]"}) {
			t.Fatalf("%v", got)
		}
		m = decode(t, e.do(t, "POST", "/recall", `{"query":"q","filters":{"n":1}}`))
		if got := coordsOf(t, m["matches"]); !reflect.DeepEqual(got, []string{"[1]"}) {
			t.Fatalf("%v", got)
		}
	})
	t.Run("type_filter", func(t *testing.T) {
		m := decode(t, e.do(t, "POST", "/recall", `{"query":"q","type":"semantic"}`))
		if got := coordsOf(t, m["matches"]); !reflect.DeepEqual(got, []string{"[2]"}) {
			t.Fatalf("%v", got)
		}
	})
	t.Run("namespace_isolation", func(t *testing.T) {
		m := decode(t, e.do(t, "POST", "/recall", `{"query":"q"}`, httpx.HeaderNamespace, "other"))
		if got := coordsOf(t, m["matches"]); !reflect.DeepEqual(got, []string{"[9]"}) {
			t.Fatalf("%v", got)
		}
	})
	t.Run("batch_keeps_query_order", func(t *testing.T) {
		m := decode(t, e.do(t, "POST", "/recall_batch", `{"queries":["toward 3","q"],"top_k":1}`))
		b := m["batches"].([]any)
		if len(b) != 2 || coordsOf(t, b[0])[0] != "[3]" || coordsOf(t, b[1])[0] != "[1]" {
			t.Fatalf("%v", m)
		}
	})
	t.Run("scores_expose_parts", func(t *testing.T) {
		m := decode(t, e.do(t, "POST", "/recall_with_scores?query=q&top_k=3&type=", ``))
		res := m["results"].([]any)
		second := res[1].(map[string]any)
		cos := second["cosine"].(float64)
		if len(res) != 3 || cos < 0.79 || cos > 0.81 || second["importance_norm"] != float64(1) || second["score"] != cos {
			t.Fatalf("%v", res)
		}
		if second["payload"].(map[string]any)["text"] != "two" {
			t.Fatalf("payload %v", second["payload"])
		}
	})
	t.Run("scores_accept_body", func(t *testing.T) {
		m := decode(t, e.do(t, "POST", "/recall_with_scores", `{"query":"toward 3","top_k":1}`))
		if got := coordsOf(t, m["results"]); !reflect.DeepEqual(got, []string{"[3]"}) {
			t.Fatalf("%v", got)
		}
	})
	t.Run("scores_query_param_wins_over_body", func(t *testing.T) {
		m := decode(t, e.do(t, "POST", "/recall_with_scores?query=q&top_k=2", `{"query":"toward 3","top_k":1}`))
		if got := coordsOf(t, m["results"]); !reflect.DeepEqual(got, []string{"[1]", "[2]"}) {
			t.Fatalf("%v", got)
		}
	})
	t.Run("context_reranks_by_recency", func(t *testing.T) {
		// Similarity order 1, 2, 3; 3 has the newest timestamp, 2 none.
		m := decode(t, e.do(t, "POST", "/recall_with_context?query=q&top_k=3", `{"goal":"ship"}`))
		if got := coordsOf(t, m["results"]); !reflect.DeepEqual(got, []string{"[3]", "[1]", "[2]"}) {
			t.Fatalf("%v", got)
		}
	})
}

func TestRecallFailures(t *testing.T) {
	t.Run("model_mismatch_is_409", func(t *testing.T) {
		e := newEnv(t, nil)
		e.world.model = "hash-v1/384"
		w := e.do(t, "POST", "/recall", `{"query":"q"}`)
		if w.Code != 409 || !strings.Contains(w.Body.String(), "embedding model") {
			t.Fatalf("%d %s", w.Code, w.Body.String())
		}
	})
	t.Run("embedder_outage_is_503", func(t *testing.T) {
		e := newEnv(t, nil)
		e.emb.err = fmt.Errorf("timeout: %w", embedding.ErrUnavailable)
		w := e.do(t, "POST", "/recall", `{"query":"q"}`)
		if w.Code != 503 || w.Header().Get("Retry-After") != "2" {
			t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body.String())
		}
	})
	t.Run("embedder_rejection_is_502", func(t *testing.T) {
		e := newEnv(t, nil)
		e.emb.err = fmt.Errorf("401 from http://10.0.0.1: %w", embedding.ErrRejected)
		w := e.do(t, "POST", "/recall", `{"query":"q"}`)
		if w.Code != 502 || w.Body.String() != `{"detail":"Embedding service error"}` {
			t.Fatalf("%d %s", w.Code, w.Body.String())
		}
	})
	t.Run("missing_read_model_is_501", func(t *testing.T) {
		e := newEnv(t, func(d *queries.Deps) { d.History = nil })
		if w := e.do(t, "GET", "/history?coord=1", ""); w.Code != 501 {
			t.Fatalf("%d %s", w.Code, w.Body.String())
		}
	})
	t.Run("path_search_limit_is_422", func(t *testing.T) {
		e := newEnv(t, func(d *queries.Deps) { d.MaxPathNodes = 1 })
		w := e.do(t, "GET", "/shortest_path?frm=1&to=3", "")
		if w.Code != 422 || !strings.Contains(w.Body.String(), `"type":"search_limit"`) {
			t.Fatalf("%d %s", w.Code, w.Body.String())
		}
	})
}

func tokenFor(parts map[int32]int64) string {
	tok := consistency.Token{Source: "memory.events"}
	for p, o := range parts {
		tok.Add(p, o)
	}
	return tok.Encode()
}

func TestConsistencyToken(t *testing.T) {
	e := newEnv(t, nil)
	t.Run("applied_token_answers", func(t *testing.T) {
		w := e.do(t, "POST", "/recall", `{"query":"q"}`, consistency.Header, tokenFor(map[int32]int64{0: 10}))
		if w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body.String())
		}
	})
	t.Run("token_in_query_parameter", func(t *testing.T) {
		w := e.do(t, "GET", "/neighbors?coord=1&consistency_token="+url.QueryEscape(tokenFor(map[int32]int64{0: 100})), "")
		if w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body.String())
		}
	})
	t.Run("lagging_read_model_is_503_naming_it", func(t *testing.T) {
		w := e.do(t, "POST", "/recall", `{"query":"q"}`, consistency.Header, tokenFor(map[int32]int64{0: 11}))
		if w.Code != 503 || w.Header().Get("Retry-After") != "1" {
			t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body.String())
		}
		var body httpapi.LagBody
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if len(body.Lagging) != 1 || body.Lagging[0].ReadModel != "qdrant" || *body.Lagging[0].Partition != 0 || *body.Lagging[0].Want != 11 || *body.Lagging[0].Applied != 10 ||
			!strings.Contains(body.Detail, "qdrant") || body.Source != "memory.events" {
			t.Fatalf("%s", w.Body.String())
		}
	})
	t.Run("route_waits_only_for_its_read_models", func(t *testing.T) {
		// qdrant lags, but neighbours read only postgres.
		w := e.do(t, "GET", "/neighbors?coord=1", "", consistency.Header, tokenFor(map[int32]int64{0: 11}))
		if w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body.String())
		}
	})
	t.Run("invalid_header_token_is_400", func(t *testing.T) {
		w := e.do(t, "POST", "/recall", `{"query":"q"}`, consistency.Header, "v1.!!!")
		if w.Code != 400 || !strings.Contains(w.Body.String(), "invalid consistency token") {
			t.Fatalf("%d %s", w.Code, w.Body.String())
		}
	})
}

// importSink records the events an import publishes.
type importSink struct {
	mu     sync.Mutex
	events []domain.Event
}

func (s *importSink) Append(_ context.Context, evs []domain.Event) (consistency.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, evs...)
	return consistency.Token{}, nil
}

func TestExport(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do(t, "GET", "/export", "")
	if w.Code != 200 || w.Header().Get("Content-Type") != httpapi.ContentTypeNDJSON || !w.Flushed {
		t.Fatalf("%d %v flushed=%v", w.Code, w.Header(), w.Flushed)
	}
	lines := strings.Split(strings.TrimSuffix(w.Body.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.Contains(lines[2], `"text":"três <&>"`) {
		t.Fatalf("lines %q", lines)
	}
	t.Run("round_trips_through_the_write_side_import", func(t *testing.T) {
		sink := &importSink{}
		app := commands.NewApplication(commands.Deps{Sink: sink, Embedder: embedding.NewHashing(8)})
		res, err := app.Import.Handle(context.Background(), commands.ImportMemories{
			Caller: commands.Caller{Namespace: ns}, Body: bytes.NewReader(w.Body.Bytes()), Replace: true,
		})
		if err != nil || res.Imported != 3 {
			t.Fatalf("%+v %v", res, err)
		}
		for i, ev := range sink.events {
			st := ev.(domain.MemoryStored)
			orig := e.world.sorted(ns)[i]
			got, err := domain.MemoryFromStored(st)
			if err != nil {
				t.Fatal(err)
			}
			if !st.Coordinate.Equal(orig.Coordinate) || st.Type != orig.Type || !reflect.DeepEqual(got.Payload, orig.Payload) {
				t.Fatalf("record %d: imported %v %s %v, exported %v %s %v", i, st.Coordinate, st.Type, got.Payload, orig.Coordinate, orig.Type, orig.Payload)
			}
		}
	})
	t.Run("links_true_adds_edge_lines_that_import_recreates", func(t *testing.T) {
		recs := e.world.sorted(ns)
		e.world.link(ns, recs[0].Coordinate, recs[1].Coordinate, "cause", 0.25)
		w := e.do(t, "GET", "/export?links=true", "")
		lines := strings.Split(strings.TrimSuffix(w.Body.String(), "\n"), "\n")
		if w.Code != 200 || len(lines) < 4 || !strings.HasPrefix(lines[len(lines)-1], `{"link":{`) || !strings.Contains(w.Body.String(), `"type":"cause","weight":0.25}}`) {
			t.Fatalf("%d %q", w.Code, lines)
		}
		sink := &importSink{}
		app := commands.NewApplication(commands.Deps{Sink: sink, Embedder: embedding.NewHashing(8)})
		res, err := app.Import.Handle(context.Background(), commands.ImportMemories{
			Caller: commands.Caller{Namespace: "fresh"}, Body: bytes.NewReader(w.Body.Bytes()), Replace: true,
		})
		if err != nil || res.Imported != len(recs) || res.Linked < 1 {
			t.Fatalf("%+v %v", res, err)
		}
		found := false
		for _, ev := range sink.events {
			if l, ok := ev.(domain.MemoriesLinked); ok && l.From.Equal(recs[0].Coordinate) && l.To.Equal(recs[1].Coordinate) && l.LinkType == "cause" && l.Weight == 0.25 {
				found = true
			}
		}
		if !found {
			t.Fatalf("edge not re-created: %+v", sink.events)
		}
		if w := e.do(t, "GET", "/export?links=maybe", ""); w.Code != 422 && w.Code != 400 {
			t.Fatalf("links=maybe: %d %s", w.Code, w.Body.String())
		}
	})
	t.Run("empty_namespace_is_empty_stream", func(t *testing.T) {
		w := e.do(t, "GET", "/export", "", httpx.HeaderNamespace, "nobody")
		if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Type") != httpapi.ContentTypeNDJSON {
			t.Fatalf("%d %q", w.Code, w.Body.String())
		}
	})
	t.Run("lagging_export_answers_before_streaming", func(t *testing.T) {
		w := e.do(t, "GET", "/export", "", consistency.Header, tokenFor(map[int32]int64{0: 101}))
		if w.Code != 503 || !strings.Contains(w.Body.String(), `"read_model":"postgres"`) {
			t.Fatalf("%d %s", w.Code, w.Body.String())
		}
	})
}

func TestExportFailureMidStreamAbortsConnection(t *testing.T) {
	e := newEnv(t, nil)
	e.world.exportErr = errors.New("postgres connection lost")
	ts := httptest.NewServer(e.srv)
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/export")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	n := 0
	for sc.Scan() {
		n++
	}
	if sc.Err() == nil {
		t.Fatalf("read %d lines and a clean end; want the stream aborted", n)
	}
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	e := newEnv(t, nil)
	undocumented, unserved, err := httpx.CompareRoutes(e.srv.Engine.Routes(), e.srv.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if len(undocumented) > 0 || len(unserved) > 0 {
		t.Fatalf("undocumented %v, documented but not served %v", undocumented, unserved)
	}
	// Every reference of the served document resolves.
	var doc map[string]any
	if err := json.Unmarshal(e.srv.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok {
				var cur any = doc
				for _, part := range strings.Split(strings.TrimPrefix(r, "#/"), "/") {
					m, _ := cur.(map[string]any)
					cur = m[part]
				}
				if cur == nil {
					t.Errorf("unresolved $ref %s", r)
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	if desc := doc["info"].(map[string]any)["description"].(string); !strings.Contains(desc, "before the top-k cut") {
		t.Fatal("the deliberate fixes are not listed in the description")
	}
}
