package httpx_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/somafractalmemory/soma/internal/httpx"
)

func TestPublicRoutes(t *testing.T) {
	cfg := testConfig()
	cfg.APIToken = "s3cret-token"
	s := newServer(t, cfg, httpx.Deps{})

	t.Run("root_has_the_original_body", func(t *testing.T) {
		rec := do(t, s, http.MethodGet, "/", nil)
		assertJSON(t, rec, http.StatusOK, `{"message": "SomaFractalMemory API is running", "metrics": "/metrics"}`)
	})
	t.Run("health_and_healthz_have_the_same_body", func(t *testing.T) {
		a := do(t, s, http.MethodGet, "/healthz", nil)
		b := do(t, s, http.MethodGet, "/health", nil)
		assertJSON(t, a, http.StatusOK, `{"status":"ok","service":"soma-test","version":"1.2.3"}`)
		assertJSON(t, b, http.StatusOK, a.Body.String())
	})
	t.Run("readyz_without_checks_is_ok", func(t *testing.T) {
		assertJSON(t, do(t, s, http.MethodGet, "/readyz", nil), http.StatusOK, `{"status":"ok","checks":{}}`)
	})
	t.Run("metrics_are_served_without_auth", func(t *testing.T) {
		do(t, s, http.MethodGet, "/healthz", nil)
		rec := do(t, s, http.MethodGet, "/metrics", nil)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "api_requests_total") {
			t.Fatalf("GET /metrics = %d %q", rec.Code, rec.Body.String())
		}
	})
	t.Run("openapi_lists_public_paths", func(t *testing.T) {
		rec := do(t, s, http.MethodGet, "/openapi.json", nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		var doc struct {
			OpenAPI string                     `json:"openapi"`
			Paths   map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/", "/healthz", "/health", "/readyz", "/metrics", "/openapi.json", "/docs"} {
			if _, ok := doc.Paths[p]; !ok {
				t.Errorf("path %s missing from /openapi.json", p)
			}
		}
		if doc.OpenAPI != "3.1.0" {
			t.Errorf("openapi = %q", doc.OpenAPI)
		}
	})
	t.Run("docs_is_self_contained_html", func(t *testing.T) {
		rec := do(t, s, http.MethodGet, "/docs", nil)
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("GET /docs = %d %s", rec.Code, rec.Header().Get("Content-Type"))
		}
		for _, want := range []string{"<code>/readyz</code>", "Readiness", "/openapi.json", "ErrorResponse"} {
			if !strings.Contains(body, want) {
				t.Errorf("docs lack %q", want)
			}
		}
		for _, banned := range []string{"<script", "http://", "https://", "cdn"} {
			if strings.Contains(body, banned) {
				t.Errorf("docs reference %q; the page must work offline", banned)
			}
		}
	})
}

func TestUnknownRouteAndMethod(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newServer(t, testConfig(), httpx.Deps{Registry: reg})

	t.Run("unknown_route_is_json_404_and_counted", func(t *testing.T) {
		assertJSON(t, do(t, s, http.MethodGet, "/no/such/route", nil), http.StatusNotFound, `{"detail":"Not Found"}`)
		assertJSON(t, do(t, s, http.MethodPost, "/nope", nil), http.StatusNotFound, `{"detail":"Not Found"}`)
		if got := metricValue(t, reg, httpx.Metric404, nil); got != 2 {
			t.Fatalf("%s = %v, want 2", httpx.Metric404, got)
		}
		if got := metricValue(t, reg, httpx.MetricRequests, map[string]string{"endpoint": httpx.UnmatchedEndpoint, "method": "GET"}); got != 1 {
			t.Fatalf("unmatched GET requests = %v, want 1", got)
		}
	})
	t.Run("wrong_method_is_json_405_with_allow", func(t *testing.T) {
		rec := do(t, s, http.MethodDelete, "/healthz", nil)
		assertJSON(t, rec, http.StatusMethodNotAllowed, `{"detail":"Method Not Allowed"}`)
		if rec.Header().Get("Allow") != "GET" {
			t.Fatalf("Allow = %q", rec.Header().Get("Allow"))
		}
	})
}

func TestRequestID(t *testing.T) {
	s := newServer(t, testConfig(), httpx.Deps{})
	var seen string
	s.API.GET("/rid", func(c *gin.Context) { seen = httpx.RequestID(c) })

	tests := []struct {
		name, sent string
		echoed     bool
	}{
		{"echoes_a_sane_id", "abc-123_X.y:z", true},
		{"replaces_an_id_with_spaces", "abc 123", false},
		{"replaces_an_overlong_id", strings.Repeat("a", 129), false},
		{"generates_when_absent", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hs []header
			if tt.sent != "" {
				hs = append(hs, header{httpx.HeaderRequestID, tt.sent})
			}
			rec := do(t, s, http.MethodGet, "/rid", nil, hs...)
			got := rec.Header().Get(httpx.HeaderRequestID)
			if got != seen {
				t.Fatalf("handler saw %q, response has %q", seen, got)
			}
			if tt.echoed && got != tt.sent {
				t.Fatalf("X-Request-ID = %q, want %q", got, tt.sent)
			}
			if !tt.echoed && (got == tt.sent || len(got) != 36) {
				t.Fatalf("X-Request-ID = %q, want a generated UUID", got)
			}
		})
	}
}

func TestMetricsUseRouteTemplates(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newServer(t, testConfig(), httpx.Deps{Registry: reg})
	s.API.GET("/items/:id", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	s.API.GET("/missing", func(c *gin.Context) { httpx.Error(c, http.StatusNotFound, "no such memory") })

	do(t, s, http.MethodGet, "/items/1", nil)
	do(t, s, http.MethodGet, "/items/2", nil)
	do(t, s, http.MethodGet, "/missing", nil)

	labels := map[string]string{"endpoint": "/items/:id", "method": "GET"}
	if got := metricValue(t, reg, httpx.MetricRequests, labels); got != 2 {
		t.Fatalf("%s%v = %v, want 2", httpx.MetricRequests, labels, got)
	}
	if got := metricValue(t, reg, httpx.MetricRequestLatency, labels); got != 2 {
		t.Fatalf("%s%v count = %v, want 2", httpx.MetricRequestLatency, labels, got)
	}
	if got := metricValue(t, reg, httpx.Metric404, nil); got != 1 {
		t.Fatalf("a handler's 404 counts in %s: got %v, want 1", httpx.Metric404, got)
	}
}

func TestEnginesShareARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := newServer(t, testConfig(), httpx.Deps{Registry: reg})
	b := newServer(t, testConfig(), httpx.Deps{Registry: reg})
	do(t, a, http.MethodGet, "/healthz", nil)
	do(t, b, http.MethodGet, "/healthz", nil)
	if got := metricValue(t, reg, httpx.MetricRequests, map[string]string{"endpoint": "/healthz", "method": "GET"}); got != 2 {
		t.Fatalf("requests = %v, want 2", got)
	}
}

func TestStoreCounter(t *testing.T) {
	reg := prometheus.NewRegistry()
	c1, err := httpx.NewStoreCounter(reg)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := httpx.NewStoreCounter(reg)
	if err != nil {
		t.Fatalf("second registration on the same registry: %v", err)
	}
	c1.Add("tenant-a", 2)
	c2.Add("tenant-a", 1)
	c2.Add("tenant-b", 0)
	var nilCounter *httpx.StoreCounter
	nilCounter.Add("tenant-a", 5)
	if got := metricValue(t, reg, httpx.MetricMemoryStored, map[string]string{"namespace": "tenant-a"}); got != 3 {
		t.Fatalf("%s{tenant-a} = %v, want 3", httpx.MetricMemoryStored, got)
	}
	if got := metricValue(t, reg, httpx.MetricMemoryStored, map[string]string{"namespace": "tenant-b"}); got != -1 {
		t.Fatalf("adding 0 must not create a series, got %v", got)
	}
}

func TestRecovery(t *testing.T) {
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	s := newServer(t, testConfig(), httpx.Deps{Registry: reg, Logger: newLogger(logs)})
	s.API.GET("/boom", func(c *gin.Context) { panic("kaboom") })

	assertJSON(t, do(t, s, http.MethodGet, "/boom", nil), http.StatusInternalServerError, `{"detail":"Internal Server Error"}`)

	var panicLogged, accessLogged bool
	for _, r := range logs.records(t) {
		switch r["msg"] {
		case "panic in handler":
			panicLogged = r["panic"] == "kaboom" && r["route"] == "/boom"
		case "http request":
			accessLogged = r["status"] == float64(500) && r["level"] == "ERROR"
		}
	}
	if !panicLogged || !accessLogged {
		t.Fatalf("panic logged %v, access log with 500 %v:\n%s", panicLogged, accessLogged, logs.String())
	}
	if got := metricValue(t, reg, httpx.MetricRequests, map[string]string{"endpoint": "/boom", "method": "GET"}); got != 1 {
		t.Fatalf("panicking request counted %v times, want 1", got)
	}
}

func TestReadyz(t *testing.T) {
	ok := func(context.Context) error { return nil }
	failing := func(context.Context) error { return errors.New("dial tcp 10.1.2.3:5432: connection refused") }
	hanging := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

	t.Run("all_checks_pass", func(t *testing.T) {
		s := newServer(t, testConfig(), httpx.Deps{ReadinessChecks: map[string]httpx.Check{"postgres": ok, "kafka": ok}})
		assertJSON(t, do(t, s, http.MethodGet, "/readyz", nil), http.StatusOK,
			`{"status":"ok","checks":{"postgres":"ok","kafka":"ok"}}`)
	})
	t.Run("failed_check_is_503_with_retry_after_and_no_error_text", func(t *testing.T) {
		logs := &logBuffer{}
		s := newServer(t, testConfig(), httpx.Deps{
			Logger:          newLogger(logs),
			ReadinessChecks: map[string]httpx.Check{"postgres": failing, "redis": ok},
		})
		rec := do(t, s, http.MethodGet, "/readyz", nil)
		assertJSON(t, rec, http.StatusServiceUnavailable,
			`{"status":"unavailable","checks":{"postgres":"failed","redis":"ok"},"failed":["postgres"],"detail":"Dependencies not ready: postgres"}`)
		if got := rec.Header().Get("Retry-After"); got != "5" {
			t.Fatalf("Retry-After = %q, want 5", got)
		}
		if !strings.Contains(logs.String(), "connection refused") {
			t.Fatalf("the check error must be logged:\n%s", logs.String())
		}
	})
	t.Run("hanging_check_times_out", func(t *testing.T) {
		cfg := testConfig()
		cfg.ReadyTimeout = 20 * time.Millisecond
		s := newServer(t, cfg, httpx.Deps{ReadinessChecks: map[string]httpx.Check{"qdrant": hanging, "redis": ok}})
		assertJSON(t, do(t, s, http.MethodGet, "/readyz", nil), http.StatusServiceUnavailable,
			`{"status":"unavailable","checks":{"qdrant":"timeout","redis":"ok"},"failed":["qdrant"],"detail":"Dependencies not ready: qdrant"}`)
	})
}

func TestAccessLogNeverContainsSecrets(t *testing.T) {
	const apiToken = "tok-API-9f8e7d6c5b4a"
	const scoped = "tok-SCOPED-1a2b3c4d5e6f"
	const wrong = "tok-WRONG-000111222333"
	logs := &logBuffer{}
	cfg := testConfig()
	cfg.APIToken = apiToken
	cfg.ScopedTokens = []httpx.ScopedToken{{Label: "agent-a", Token: scoped, Namespaces: []string{"tenant-a"}}}
	s := newServer(t, cfg, httpx.Deps{Logger: newLogger(logs)})
	s.API.GET("/boom", func(c *gin.Context) { panic("kaboom") })

	do(t, s, http.MethodGet, "/echo", nil, bearer(apiToken))
	do(t, s, http.MethodGet, "/echo?token="+apiToken, nil, bearer(apiToken))
	do(t, s, http.MethodGet, "/echo", nil, bearer(scoped), ns("tenant-a"))
	do(t, s, http.MethodGet, "/echo", nil, bearer(scoped), ns("tenant-b"))
	do(t, s, http.MethodGet, "/echo", nil, bearer(wrong))
	do(t, s, http.MethodGet, "/boom", nil, bearer(apiToken))

	out := logs.String()
	for _, secret := range []string{apiToken, scoped, wrong, "Bearer"} {
		if strings.Contains(out, secret) {
			t.Fatalf("log contains %q:\n%s", secret, out)
		}
	}
	var found bool
	for _, r := range logs.records(t) {
		if r["msg"] == "http request" && r["actor"] == "agent-a" && r["namespace"] == "tenant-a" {
			found = true
			for _, k := range []string{"method", "route", "status", "latency", "request_id"} {
				if _, ok := r[k]; !ok {
					t.Errorf("access log lacks %q: %v", k, r)
				}
			}
		}
	}
	if !found {
		t.Fatalf("no access log record with actor and namespace:\n%s", out)
	}
}

func TestNewRejectsInvalidInput(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBodyBytes = 0
	if _, err := httpx.New(cfg, httpx.Deps{Registry: prometheus.NewRegistry()}); err == nil {
		t.Fatal("New accepted an invalid config")
	}
	if _, err := httpx.New(testConfig(), httpx.Deps{}); err == nil {
		t.Fatal("New accepted a nil registry")
	}
	if _, err := httpx.New(testConfig(), httpx.Deps{Registry: prometheus.NewRegistry(), OpenAPI: []byte(`[1]`)}); err == nil {
		t.Fatal("New accepted an OpenAPI document that is not an object")
	}
}

func TestServeShutsDownWhenContextEnds(t *testing.T) {
	s := newServer(t, testConfig(), httpx.Deps{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz over TCP = %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}
