package main

// Live end-to-end tests: a deployment that is already running (the chart on
// a kind cluster, the compose stack, a staging release), reached over HTTP.
//
//	SOMA_E2E_URL        the write API, e.g. http://127.0.0.1:9595 (required)
//	SOMA_E2E_QUERY_URL  the query API, e.g. http://127.0.0.1:9596
//	                    (default SOMA_E2E_URL: soma serve answers every route there)
//	SOMA_E2E_TOKEN      bearer token, when the deployment sets SOMA_API_TOKEN
//	SOMA_E2E_NAMESPACE  namespace to write in (default e2e-live-<random>);
//	                    set it when the token is namespace-scoped
//	SOMA_E2E_REQUIRED   1: fail instead of skipping when SOMA_E2E_URL is unset
//
// scripts/run_ci.sh (make kind-ci) forwards a release's APIs to loopback and
// runs these tests with all of the above. Without SOMA_E2E_URL they skip,
// loudly: their target is an external cluster that no `go test` run can
// start. That skip is the only one acceptable here; the same paths run
// against real Kafka, Postgres and Redis in the in-process end-to-end suite
// (internal/app/e2e_test.go), which needs no cluster.
//
// The subtests are named after the component they exercise (api, query,
// projector) so that run_ci.sh can name the failing one. Everything is
// written in a namespace of its own and deleted at the end.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	cmdhttp "github.com/somafractalmemory/soma/commands/httpapi"
	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/internal/httpx"
	qhttp "github.com/somafractalmemory/soma/queries/httpapi"
)

// Environment variables of the live tests.
const (
	liveURLVar       = "SOMA_E2E_URL"
	liveQueryURLVar  = "SOMA_E2E_QUERY_URL"
	liveTokenVar     = "SOMA_E2E_TOKEN"
	liveNamespaceVar = "SOMA_E2E_NAMESPACE"
	liveRequiredVar  = "SOMA_E2E_REQUIRED"
)

// liveTarget is the deployment under test.
type liveTarget struct {
	api, query string // base URLs, no trailing slash
	token      string
	namespace  string
	client     *http.Client
}

// liveTargetFromEnv reads the target, skipping (or failing under
// SOMA_E2E_REQUIRED=1) when none is configured.
func liveTargetFromEnv(t *testing.T) *liveTarget {
	t.Helper()
	api := strings.TrimRight(os.Getenv(liveURLVar), "/")
	if api == "" {
		msg := liveURLVar + " is not set: the live end-to-end tests need a running deployment " +
			"(make kind-up && make kind-ci, or " + liveURLVar + "=http://127.0.0.1:9595 go test -run TestLive ./cmd/soma)"
		if os.Getenv(liveRequiredVar) == "1" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED, NOT RUN: " + msg)
	}
	query := strings.TrimRight(os.Getenv(liveQueryURLVar), "/")
	if query == "" {
		query = api
	}
	for _, u := range []string{api, query} {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			t.Fatalf("%q is not an http(s) base URL (%s, %s)", u, liveURLVar, liveQueryURLVar)
		}
	}
	ns := os.Getenv(liveNamespaceVar)
	if ns == "" {
		ns = "e2e-live-" + uuid.NewString()[:8]
	}
	return &liveTarget{api: api, query: query, token: os.Getenv(liveTokenVar), namespace: ns, client: &http.Client{Timeout: 60 * time.Second}}
}

// liveAnswer is one HTTP answer, decoded when it is JSON.
type liveAnswer struct {
	code int
	body map[string]any
	raw  string
	hdr  http.Header
}

func (a liveAnswer) String() string { return fmt.Sprintf("%d %s", a.code, a.raw) }

// do sends a request; body is JSON or empty, extra headers are added.
func (lt *liveTarget) do(t *testing.T, method, url, body string, hdr map[string]string) liveAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), lt.client.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if lt.token != "" {
		req.Header.Set(httpx.HeaderAuthorization, "Bearer "+lt.token)
	}
	req.Header.Set(httpx.HeaderNamespace, lt.namespace)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := lt.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	a := liveAnswer{code: resp.StatusCode, raw: string(raw), hdr: resp.Header}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// store writes a memory and returns the consistency token of the write.
func (lt *liveTarget) store(t *testing.T, coord, text string) string {
	t.Helper()
	a := lt.do(t, http.MethodPost, lt.api+cmdhttp.RouteStore, fmt.Sprintf(`{"coord":%q,"payload":{"text":%q}}`, coord, text), nil)
	if a.code != http.StatusOK {
		t.Fatalf("store %s: %s", coord, a)
	}
	tok := a.hdr.Get(consistency.Header)
	if tok == "" {
		t.Fatalf("store %s: no %s header in the answer", coord, consistency.Header)
	}
	return tok
}

func withToken(tok string) map[string]string { return map[string]string{consistency.Header: tok} }

// TestLiveCluster: health, a write, and a write read back through the log
// and the projections, against a running deployment.
func TestLiveCluster(t *testing.T) {
	lt := liveTargetFromEnv(t)
	t.Logf("target: write API %s, query API %s, namespace %s", lt.api, lt.query, lt.namespace)
	var written []string
	t.Cleanup(func() {
		for _, c := range written {
			if a := lt.do(t, http.MethodPost, lt.api+cmdhttp.RouteDelete, fmt.Sprintf(`{"coord":%q}`, c), nil); a.code != http.StatusOK && a.code != http.StatusNotFound {
				t.Errorf("clean-up: delete %s: %s", c, a)
			}
		}
	})

	t.Run("api", func(t *testing.T) {
		for _, route := range []string{httpx.RouteHealthz, httpx.RouteReadyz} {
			if a := lt.do(t, http.MethodGet, lt.api+route, "", nil); a.code != http.StatusOK {
				t.Errorf("write API %s: %s", route, a)
			}
		}
		written = append(written, "7,7,1")
		lt.store(t, "7,7,1", "live health probe "+uuid.NewString())
	})

	t.Run("query", func(t *testing.T) {
		for _, route := range []string{httpx.RouteHealthz, httpx.RouteReadyz} {
			if a := lt.do(t, http.MethodGet, lt.query+route, "", nil); a.code != http.StatusOK {
				t.Errorf("query API %s: %s", route, a)
			}
		}
		a := lt.do(t, http.MethodGet, lt.query+httpx.RouteOpenAPI, "", nil)
		paths, _ := a.body["paths"].(map[string]any)
		if a.code != http.StatusOK || paths[qhttp.RouteRecall] == nil {
			t.Errorf("query API %s does not describe %s: %d", httpx.RouteOpenAPI, qhttp.RouteRecall, a.code)
		}
	})

	// The consistency token makes each read wait until the projections
	// have applied the write: a projector that does not keep up shows here
	// as a 503 (lagging) or a miss.
	t.Run("projector", func(t *testing.T) {
		from, to := "7,7,2", "7,7,3"
		written = append(written, from, to)
		text := "live end-to-end memory " + uuid.NewString()
		lt.store(t, from, text)
		tok := lt.store(t, to, "its neighbour "+uuid.NewString())

		a := lt.do(t, http.MethodPost, lt.query+qhttp.RouteRecall, fmt.Sprintf(`{"query":%q,"top_k":1}`, text), withToken(tok))
		matches, _ := a.body["matches"].([]any)
		if a.code != http.StatusOK || len(matches) != 1 {
			t.Fatalf("recall with the token: %s", a)
		}
		if m, _ := matches[0].(map[string]any); m["text"] != text {
			t.Fatalf("recall with the token returned %v, want the memory just stored (%q)", matches[0], text)
		}

		a = lt.do(t, http.MethodPost, lt.api+cmdhttp.RouteLink, fmt.Sprintf(`{"from_coord":%q,"to_coord":%q,"type":"next","weight":2}`, from, to), nil)
		if a.code != http.StatusOK {
			t.Fatalf("link: %s", a)
		}
		a = lt.do(t, http.MethodGet, lt.query+qhttp.RouteNeighbors+"?coord="+from, "", withToken(a.hdr.Get(consistency.Header)))
		if a.code != http.StatusOK || !strings.Contains(a.raw, `"next"`) {
			t.Fatalf("neighbors after the link: %s", a)
		}

		a = lt.do(t, http.MethodPost, lt.api+cmdhttp.RouteDelete, fmt.Sprintf(`{"coord":%q}`, to), nil)
		if a.code != http.StatusOK {
			t.Fatalf("delete: %s", a)
		}
		a = lt.do(t, http.MethodGet, lt.query+qhttp.RouteMemory+"?coord="+to, "", withToken(a.hdr.Get(consistency.Header)))
		if a.code != http.StatusNotFound {
			t.Fatalf("memory after its delete: %s, want 404", a)
		}
	})
}
