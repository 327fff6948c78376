package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/commands/httpapi"
	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/internal/embedding"
	"github.com/somafractalmemory/soma/internal/httpx"
	"github.com/somafractalmemory/soma/internal/idempotency"
)

func init() { gin.SetMode(gin.TestMode) }

// sink records events in memory; the component test in
// component_test.go publishes to a real Kafka instead.
type sink struct {
	mu     sync.Mutex
	events []domain.Event
	fail   error
}

func (s *sink) Append(_ context.Context, evs []domain.Event) (consistency.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return consistency.Token{}, s.fail
	}
	s.events = append(s.events, evs...)
	t := consistency.Token{Source: "memory.events"}
	t.Add(0, int64(len(s.events)-1))
	return t, nil
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}

type dir map[string]bool

func (d dir) Existing(_ context.Context, ns string, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, k := range keys {
		out[k] = d[ns+"/"+k]
	}
	return out, nil
}

type env struct {
	srv  *httpx.Server
	sink *sink
}

func newEnv(t testing.TB, mutate func(*httpx.Config)) env {
	t.Helper()
	s := &sink{}
	app := commands.NewApplication(commands.Deps{Sink: s, Directory: dir{"default/1": true}, Embedder: embedding.NewHashing(32)})
	cfg := httpx.DefaultConfig()
	cfg.RateLimit.Max = 0
	cfg.MaxBodyBytes = 4096
	cfg.RouteMaxBodyBytes = map[string]int64{httpapi.RouteStoreBulk: 1 << 20, httpapi.RouteImport: 1 << 20}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := httpx.New(cfg, httpx.Deps{Registry: prometheus.NewRegistry(), OpenAPI: httpapi.OpenAPI()})
	if err != nil {
		t.Fatal(err)
	}
	httpapi.Register(srv.API, app, httpapi.Options{Idempotency: idempotency.NewMemory(100, nil)})
	return env{srv: srv, sink: s}
}

func (e env) do(t testing.TB, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
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

func TestCommandErrors(t *testing.T) {
	e := newEnv(t, nil)
	big := `{"coord":"1","payload":{"text":"` + strings.Repeat("x", 5000) + `"}}`
	cases := []struct {
		name, path, body string
		status           int
		detail           string // substring of the JSON body
	}{
		{"store_rejects_non_numeric_coordinate", "/store", `{"coord":"1,abc","payload":{}}`, 400, `not a number`},
		{"store_rejects_nan_coordinate", "/store", `{"coord":"1,NaN","payload":{}}`, 400, `not finite`},
		{"store_rejects_infinite_coordinate", "/store", `{"coord":"inf","payload":{}}`, 400, `not finite`},
		{"store_requires_coord", "/store", `{"payload":{}}`, 422, `"loc":["body","coord"]`},
		{"store_requires_payload", "/store", `{"coord":"1"}`, 422, `"loc":["body","payload"]`},
		{"store_rejects_non_object_payload", "/store", `{"coord":"1","payload":[1]}`, 422, `payload`},
		{"store_rejects_malformed_json", "/store", `{"coord":`, 422, `json_invalid`},
		{"store_rejects_empty_body", "/store", ``, 422, `missing`},
		{"store_rejects_string_importance", "/store", `{"coord":"1","payload":{"importance":"x"}}`, 422, `"loc":["body","payload","importance"]`},
		{"store_rejects_wrong_embedding_dimension", "/store", `{"coord":"1","payload":{},"embedding":[1,2]}`, 422, `dimension mismatch`},
		{"store_rejects_body_over_limit", "/store", big, 413, `Request body too large`},
		{"store_rejects_nul_characters", "/store", `{"coord":"1","payload":{"text":"a\u0000b"}}`, 422, `"loc":["body","payload"]`},
		{"bulk_rejects_whole_batch_on_one_bad_coordinate", "/store_bulk", `{"items":[{"coord":"1","payload":{}},{"coord":"x","payload":{}}]}`, 400, `items[1].coord`},
		{"bulk_rejects_whole_batch_on_one_bad_payload", "/store_bulk", `{"items":[{"coord":"1","payload":{}},{"coord":"2","payload":{"importance":true}}]}`, 422, `"loc":["body","items",1,"payload","importance"]`},
		{"bulk_requires_items", "/store_bulk", `{}`, 422, `"loc":["body","items"]`},
		{"link_from_missing_memory_is_404", "/link", `{"from_coord":"2","to_coord":"1"}`, 404, `memory not found`},
		{"link_rejects_negative_weight", "/link", `{"from_coord":"1","to_coord":"2","weight":-1}`, 422, `"loc":["body","weight"]`},
		{"link_requires_both_coordinates", "/link", `{}`, 422, `"loc":["body","to_coord"]`},
		{"link_rejects_bad_target", "/link", `{"from_coord":"1","to_coord":"a"}`, 400, `to_coord`},
		{"set_importance_unknown_memory_is_404", "/set_importance", `{"coord":"7","importance":1}`, 404, `memory not found`},
		{"set_importance_requires_importance", "/set_importance", `{"coord":"1"}`, 422, `"loc":["body","importance"]`},
		{"delete_many_rejects_bad_coordinate", "/delete_many", `{"coords":["1","b"]}`, 400, `coords[1]`},
		{"import_reports_lines", "/import", "{\"coordinate\":[1],\"a\":1}\n\nnope\n", 422, `"loc":["body","line",3]`},
		{"import_rejects_bad_replace_flag", "/import?replace=maybe", "", 422, `replace`},
		{"unknown_route_is_json_404", "/nope", `{}`, 404, `"detail":"Not Found"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.sink.count()
			w := e.do(t, http.MethodPost, tc.path, tc.body)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.detail) {
				t.Fatalf("got %d %s; want %d containing %s", w.Code, w.Body.String(), tc.status, tc.detail)
			}
			if e.sink.count() != before {
				t.Fatal("a rejected command published events")
			}
		})
	}
	t.Run("wrong_method_is_json_405", func(t *testing.T) {
		w := e.do(t, http.MethodGet, "/store", "")
		if w.Code != 405 || !strings.Contains(w.Body.String(), `"detail":"Method Not Allowed"`) {
			t.Fatalf("got %d %s", w.Code, w.Body.String())
		}
	})
}

func TestCommandsAccepted(t *testing.T) {
	e := newEnv(t, nil)
	t.Run("store_returns_token_in_body_and_header", func(t *testing.T) {
		w := e.do(t, http.MethodPost, "/store", `{"coord":"1, 2","payload":{"text":"hi"},"type":"semantic"}`)
		if w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body.String())
		}
		m := decode(t, w)
		tok := w.Header().Get(consistency.Header)
		if m["ok"] != true || tok == "" || m["consistency_token"] != tok || fmt.Sprint(m["coord"]) != "[1 2]" || len(m["event_ids"].([]any)) != 1 {
			t.Fatalf("%v / %q", m, tok)
		}
		if _, err := consistency.Parse(tok); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("remember_generates_coordinate", func(t *testing.T) {
		w := e.do(t, http.MethodPost, "/remember", `{"payload":{"text":"x"}}`)
		m := decode(t, w)
		if w.Code != 200 || len(m["coord"].([]any)) != 2 {
			t.Fatalf("%d %v", w.Code, m)
		}
	})
	t.Run("bulk_counts", func(t *testing.T) {
		w := e.do(t, http.MethodPost, "/store_bulk", `{"items":[{"coord":"10","payload":{"text":"a"}},{"coord":[11,2],"payload":{"text":"b"}}]}`)
		if m := decode(t, w); w.Code != 200 || m["stored"] != float64(2) {
			t.Fatalf("%d %v", w.Code, m)
		}
	})
	t.Run("link_default_type_and_weight", func(t *testing.T) {
		before := e.sink.count()
		w := e.do(t, http.MethodPost, "/link", `{"from_coord":"1","to_coord":"2"}`)
		if w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body.String())
		}
		ev := e.sink.events[before].(domain.MemoriesLinked)
		if ev.LinkType != "related" || ev.Weight != 1 {
			t.Fatalf("%+v", ev)
		}
	})
	t.Run("delete_many_counts_existing", func(t *testing.T) {
		w := e.do(t, http.MethodPost, "/delete_many", `{"coords":["1","99"]}`)
		if m := decode(t, w); w.Code != 200 || m["deleted"] != float64(1) {
			t.Fatalf("%d %v", w.Code, m)
		}
	})
	t.Run("import_ndjson", func(t *testing.T) {
		w := e.do(t, http.MethodPost, "/import?replace=true", "{\"coordinate\":[5],\"text\":\"a\"}\n\n{\"coordinate\":[6],\"text\":\"b\",\"memory_type\":\"semantic\"}\n")
		if m := decode(t, w); w.Code != 200 || m["imported"] != float64(2) {
			t.Fatalf("%d %v", w.Code, m)
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t, nil)
	body := `{"coord":"3","payload":{"text":"once"}}`
	first := e.do(t, http.MethodPost, "/store", body, "Idempotency-Key", "k1")
	n := e.sink.count()
	second := e.do(t, http.MethodPost, "/store", body, "Idempotency-Key", "k1")
	if first.Code != 200 || second.Code != 200 || e.sink.count() != n || second.Header().Get(httpapi.HeaderReplayed) != "true" {
		t.Fatalf("retry published again or was not replayed: %d %d events %d→%d", first.Code, second.Code, n, e.sink.count())
	}
	if !bytes.Equal(first.Body.Bytes(), second.Body.Bytes()) || first.Header().Get(consistency.Header) != second.Header().Get(consistency.Header) {
		t.Fatal("replayed answer differs")
	}
	if w := e.do(t, http.MethodPost, "/store", `{"coord":"4","payload":{}}`, "Idempotency-Key", "k1"); w.Code != 422 {
		t.Fatalf("same key, other body: %d", w.Code)
	}
	if w := e.do(t, http.MethodPost, "/store", body, "Idempotency-Key", "k1", httpx.HeaderNamespace, "other"); w.Code != 200 || w.Header().Get(httpapi.HeaderReplayed) != "" {
		t.Fatalf("keys are scoped per namespace: %d", w.Code)
	}
}

func TestUnavailableLogIs503(t *testing.T) {
	e := newEnv(t, nil)
	e.sink.fail = fmt.Errorf("%w: no acknowledgement within 5s", commands.ErrUnavailable)
	w := e.do(t, http.MethodPost, "/store", `{"coord":"1","payload":{}}`, "Idempotency-Key", "k")
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "unavailable") {
		t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body.String())
	}
	e.sink.fail = nil
	if w := e.do(t, http.MethodPost, "/store", `{"coord":"1","payload":{}}`, "Idempotency-Key", "k"); w.Code != 200 {
		t.Fatalf("a 503 must not be remembered for the key: %d", w.Code)
	}
}

func TestAuthOnCommands(t *testing.T) {
	e := newEnv(t, func(c *httpx.Config) { c.APIToken = "s3cret" })
	if w := e.do(t, http.MethodPost, "/store", `{"coord":"1","payload":{}}`); w.Code != 401 || w.Body.String() != `{"detail":"Missing bearer token"}` {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	if w := e.do(t, http.MethodPost, "/store", `{"coord":"1","payload":{}}`, "Authorization", "Bearer nope"); w.Code != 403 || w.Body.String() != `{"detail":"Invalid token"}` {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	if w := e.do(t, http.MethodPost, "/store", `{"coord":"1","payload":{}}`, "Authorization", "Bearer s3cret"); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body.String())
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
}
