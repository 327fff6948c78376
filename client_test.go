package soma_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/somafractalmemory/soma"
	"github.com/somafractalmemory/soma/internal/consistency"
)

func newTestClient(t *testing.T, cfg soma.ClientConfig) *soma.Client {
	t.Helper()
	c, err := soma.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func token(t *testing.T, positions map[int32]int64) string {
	t.Helper()
	tok := consistency.Token{Source: "memory.events"}
	for p, o := range positions {
		tok.Add(p, o)
	}
	return tok.Encode()
}

func TestClientSendsNamespaceTokenAndMergedConsistencyToken(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []http.Header
		n    int
	)
	writes := []string{token(t, map[int32]int64{0: 5}), token(t, map[int32]int64{1: 7, 0: 3})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Header.Clone())
		if r.URL.Path == "/store" {
			w.Header().Set(consistency.Header, writes[n])
			fmt.Fprintf(w, `{"ok":true,"coord":[1],"event_ids":["e%d"],"consistency_token":%q}`, n, writes[n])
			n++
			return
		}
		fmt.Fprint(w, `{"total_memories":2,"episodic":2,"semantic":0}`)
	}))
	defer srv.Close()
	c := newTestClient(t, soma.ClientConfig{URL: srv.URL, Namespace: "tenant-a", Token: "s3cret"})
	ctx := context.Background()
	for range writes {
		if _, err := c.Store(ctx, soma.StoreRequest{Coordinate: soma.Coordinate{1}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Stats(ctx); err != nil {
		t.Fatal(err)
	}
	want := token(t, map[int32]int64{0: 5, 1: 7})
	if got := c.ConsistencyToken(); got != want {
		t.Fatalf("merged token %q, want %q", got, want)
	}
	for i, h := range seen {
		if h.Get("X-Soma-Namespace") != "tenant-a" || h.Get("Authorization") != "Bearer s3cret" {
			t.Fatalf("request %d headers: %v", i, h)
		}
	}
	if got := seen[0].Get(consistency.Header); got != "" {
		t.Fatalf("a write sent a consistency token: %q", got)
	}
	if got := seen[2].Get(consistency.Header); got != want {
		t.Fatalf("read sent %q, want the merged %q", got, want)
	}
}

func TestClientErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		body       string
		retryAfter string
		want       error
		text       string
	}{
		{"bad_coordinate_is_invalid", 400, `{"detail":"coord: invalid coordinate \"x\""}`, "", soma.ErrInvalid, `400 Bad Request: coord: invalid coordinate "x"`},
		{"field_errors_are_invalid_and_listed", 422, `{"detail":[{"loc":["body","top_k"],"msg":"must be 1..1000","type":"value_error"}]}`, "", soma.ErrInvalid, "body.top_k: must be 1..1000"},
		{"body_too_large_is_invalid", 413, `{"detail":"Request body too large"}`, "", soma.ErrInvalid, "413"},
		{"missing_memory_is_not_found", 404, `{"detail":"memory not found"}`, "", soma.ErrNotFound, "memory not found"},
		{"conflict", 409, `{"detail":"in progress"}`, "", soma.ErrConflict, "409"},
		{"missing_token_is_unauthorized", 401, `{"detail":"Missing bearer token"}`, "", soma.ErrUnauthorized, "Missing bearer token"},
		{"wrong_token_is_unauthorized", 403, `{"detail":"Invalid token"}`, "", soma.ErrUnauthorized, "Invalid token"},
		{"rate_limited_carries_retry_after", 429, `{"detail":"Rate limit exceeded"}`, "7", soma.ErrRateLimited, "429"},
		{"unavailable_carries_retry_after", 503, `{"detail":"lagging","lagging":[]}`, "2", soma.ErrUnavailable, "lagging"},
		{"non_json_body_is_kept_as_text", 502, "bad gateway", "", nil, "502 Bad Gateway: bad gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			c := newTestClient(t, soma.ClientConfig{URL: srv.URL})
			_, err := c.Recall(context.Background(), soma.RecallRequest{Query: "x"})
			var ae *soma.APIError
			if !errors.As(err, &ae) || ae.Status != tc.status {
				t.Fatalf("err %v, want an APIError with status %d", err, tc.status)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("%v does not match %v", err, tc.want)
			}
			for _, s := range []error{soma.ErrInvalid, soma.ErrNotFound, soma.ErrConflict, soma.ErrUnauthorized, soma.ErrRateLimited, soma.ErrUnavailable} {
				if s != tc.want && errors.Is(err, s) {
					t.Fatalf("%v also matches %v", err, s)
				}
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %q does not say %q", err, tc.text)
			}
			if tc.retryAfter != "" && ae.RetryAfter.String() != tc.retryAfter+"s" {
				t.Fatalf("RetryAfter %v", ae.RetryAfter)
			}
		})
	}
}

func TestClientImportSendsWholeLinesInChunksAndNumbersLinesFromTheStart(t *testing.T) {
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		if r.URL.Query().Get("replace") != "true" {
			t.Errorf("replace not sent: %s", r.URL)
		}
		if strings.Contains(string(b), "bad") {
			w.WriteHeader(422)
			fmt.Fprint(w, `{"detail":[{"loc":["body","line",2],"msg":"not a JSON object","type":"value_error"}]}`)
			return
		}
		lines := strings.Count(string(b), "\n")
		fmt.Fprintf(w, `{"imported":%d,"skipped":0,"linked":0,"event_ids":[]}`, lines)
	}))
	defer srv.Close()
	c := newTestClient(t, soma.ClientConfig{URL: srv.URL, ImportChunkBytes: 40})
	input := strings.Join([]string{
		`{"coordinate":[1],"a":"xxxxxxxxxx"}`, // 36 bytes + newline: one chunk each
		`{"coordinate":[2],"a":"xxxxxxxxxx"}`,
		`{"coordinate":[3]}`,
		`bad`,
	}, "\n")
	var progress []soma.ImportProgress
	res, err := c.ImportWithOptions(context.Background(), strings.NewReader(input), soma.ImportOptions{Replace: true, Progress: func(p soma.ImportProgress) { progress = append(progress, p) }})
	if len(bodies) != 3 || bodies[0] != `{"coordinate":[1],"a":"xxxxxxxxxx"}`+"\n" || bodies[2] != "{\"coordinate\":[3]}\nbad\n" {
		t.Fatalf("chunks: %q", bodies)
	}
	if !errors.Is(err, soma.ErrInvalid) || !strings.Contains(err.Error(), "body.line.4") || !strings.Contains(err.Error(), "after 2 records") {
		t.Fatalf("err %v: want the input's line 4 and the count imported", err)
	}
	if res.Imported != 2 || len(progress) != 2 || progress[1].Lines != 2 || progress[1].Imported != 2 {
		t.Fatalf("result %+v progress %+v", res, progress)
	}
}

func TestClientExportOfACutStreamIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("links") != "true" {
			t.Errorf("links not asked for: %s", r.URL)
		}
		w.Header().Set("Content-Length", "1000")
		fmt.Fprint(w, "{\"coordinate\":[1]}\n{\"link\":{\"from\":[1],\"to\":[2],\"type\":\"related\",\"weight\":1}}\n")
	}))
	defer srv.Close()
	c := newTestClient(t, soma.ClientConfig{URL: srv.URL})
	var buf bytes.Buffer
	n, err := c.Export(context.Background(), &buf)
	if err == nil || n != 1 || !strings.Contains(err.Error(), "stream cut after 1 records") {
		t.Fatalf("n %d err %v", n, err)
	}
}

func TestClientConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  soma.ClientConfig
		ok   bool
	}{
		{"accepts_http_url", soma.ClientConfig{URL: "http://127.0.0.1:9595"}, true},
		{"accepts_https_query_url", soma.ClientConfig{URL: "http://a", QueryURL: "https://b:9596"}, true},
		{"rejects_missing_url", soma.ClientConfig{}, false},
		{"rejects_other_scheme", soma.ClientConfig{URL: "ftp://a"}, false},
		{"rejects_url_without_host", soma.ClientConfig{URL: "http://"}, false},
		{"rejects_line_break_in_token", soma.ClientConfig{URL: "http://a", Token: "a\nb"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v", err)
			}
		})
	}
}

func TestClientRecordJSON(t *testing.T) {
	t.Run("decodes_the_flat_form", func(t *testing.T) {
		var r soma.Record
		in := `{"coordinate":[1,2.5],"memory_type":"semantic","importance_norm":0.25,"timestamp":1700000000.5,"text":"hi","importance":3,"n":1.50}`
		if err := json.Unmarshal([]byte(in), &r); err != nil {
			t.Fatal(err)
		}
		if r.Coordinate.String() != "1,2.5" || r.Type != soma.Semantic || r.ImportanceNorm != 0.25 || r.Timestamp == nil || *r.Timestamp != 1700000000.5 {
			t.Fatalf("%+v", r)
		}
		if len(r.Payload) != 3 || r.Payload["n"] != json.Number("1.50") {
			t.Fatalf("payload %#v", r.Payload)
		}
		if got := r.Time(); !got.Equal(time.Unix(1700000000, 5e8)) {
			t.Fatalf("Time() = %v", got)
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"coordinate":[1,2.5],"importance":3,"importance_norm":0.25,"memory_type":"semantic","n":1.50,"text":"hi","timestamp":1700000000.5}`
		if string(out) != want {
			t.Fatalf("round trip\n got %s\nwant %s", out, want)
		}
	})
	t.Run("keeps_a_non_numeric_timestamp_in_the_payload", func(t *testing.T) {
		var r soma.Record
		if err := json.Unmarshal([]byte(`{"coordinate":[],"timestamp":"yesterday"}`), &r); err != nil {
			t.Fatal(err)
		}
		if r.Timestamp != nil || r.Payload["timestamp"] != "yesterday" || r.Coordinate == nil || len(r.Coordinate) != 0 {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("rejects_a_non_finite_coordinate", func(t *testing.T) {
		var r soma.Record
		err := json.Unmarshal([]byte(`{"coordinate":"1,NaN"}`), &r)
		if !errors.Is(err, soma.ErrInvalid) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestClientCoordinate(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		ok             bool
	}{
		{"trims_and_drops_empty_parts", " 1, 2,,3 ", "1,2,3", true},
		{"accepts_exponents", "1e3,9.0", "1000,9", true},
		{"folds_negative_zero", "-0", "0", true},
		{"empty_is_the_empty_coordinate", "", "", true},
		{"rejects_a_word", "1,x", "", false},
		{"rejects_nan", "NaN", "", false},
		{"rejects_inf", "1,Inf", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := soma.ParseCoordinate(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v", err)
			}
			if err != nil {
				if !errors.Is(err, soma.ErrInvalid) {
					t.Fatalf("%v is not ErrInvalid", err)
				}
				return
			}
			if c.String() != tc.want {
				t.Fatalf("String() = %q, want %q", c.String(), tc.want)
			}
			b, _ := json.Marshal(c)
			var back soma.Coordinate
			if err := json.Unmarshal(b, &back); err != nil || !back.Equal(c) {
				t.Fatalf("JSON %s → %v (%v)", b, back, err)
			}
		})
	}
}

// TestClientConcurrentUseAgainstTheService stores and recalls from many
// goroutines through one Client (run with -race).
func TestClientConcurrentUseAgainstTheService(t *testing.T) {
	c := newTestClient(t, soma.ClientConfig{URL: serviceURL, Namespace: "client-concurrent"})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Store(ctx, soma.StoreRequest{Coordinate: soma.Coordinate{float64(i)}, Payload: map[string]any{"text": fmt.Sprintf("note %d", i)}}); err != nil {
				errs <- err
				return
			}
			if _, err := c.Recall(ctx, soma.RecallRequest{Query: "note"}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st, err := c.Stats(ctx)
	if err != nil || st.TotalMemories != 8 {
		t.Fatalf("stats %+v err %v", st, err)
	}
	got, err := c.Get(ctx, soma.Coordinate{3})
	if err != nil || got.Payload["text"] != "note 3" {
		t.Fatalf("get %+v err %v", got, err)
	}
}

func TestClientLinkWeight(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies []map[string]any
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("body: %v", err)
		}
		mu.Lock()
		bodies = append(bodies, m)
		mu.Unlock()
		fmt.Fprint(w, `{"ok":true,"event_ids":["e"],"consistency_token":""}`)
	}))
	defer srv.Close()
	c := newTestClient(t, soma.ClientConfig{URL: srv.URL})
	for _, tc := range []struct {
		name   string
		weight *float64
		want   any // the body's "weight"; nil: left out
	}{
		{"nil_weight_is_left_out_for_the_service_default", nil, nil},
		{"zero_weight_is_sent", soma.Weight(0), 0.0},
		{"given_weight_is_sent", soma.Weight(2.5), 2.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			bodies = nil
			mu.Unlock()
			if _, err := c.Link(context.Background(), soma.LinkRequest{From: soma.Coordinate{1}, To: soma.Coordinate{2}, Weight: tc.weight}); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			got, present := bodies[0]["weight"]
			if (tc.want == nil) == present || (present && got != tc.want) {
				t.Fatalf("body %v, want weight %v", bodies[0], tc.want)
			}
			if bodies[0]["type"] != soma.DefaultLinkType {
				t.Fatalf("type %v", bodies[0]["type"])
			}
		})
	}
}

func TestClientConsistencyLag(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		lag  bool
	}{
		{"lagging_read_models_are_a_consistency_lag", `{"detail":"Read models have not applied the consistency token within 5s: records; retry later","lagging":[{"read_model":"records","partition":0,"want":9,"applied":3}],"source":"event_log","timeout_seconds":5}`, true},
		{"a_dependency_outage_is_not", `{"detail":"vector index unavailable"}`, false},
		{"a_null_lagging_is_not", `{"detail":"x","lagging":null}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			c := newTestClient(t, soma.ClientConfig{URL: srv.URL})
			_, err := c.Stats(context.Background())
			if !errors.Is(err, soma.ErrUnavailable) || errors.Is(err, soma.ErrConsistencyLag) != tc.lag {
				t.Fatalf("err %v: ErrConsistencyLag %v, want %v", err, errors.Is(err, soma.ErrConsistencyLag), tc.lag)
			}
			var ae *soma.APIError
			if !errors.As(err, &ae) || (ae.Lagging != nil) != tc.lag {
				t.Fatalf("Lagging %s", ae.Lagging)
			}
		})
	}
}

func TestClientConfigValidateRedactsPasswords(t *testing.T) {
	for _, tc := range []struct{ name, url string }{
		{"parsable_url_of_another_scheme", "ftp://user:hunter2@example.com/x"},
		{"unparsable_port", "http://user:hunter2@example.com:port/x"},
		{"query_url", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := soma.ClientConfig{URL: tc.url}
			if tc.url == "" {
				cfg = soma.ClientConfig{URL: "http://a", QueryURL: "gopher://admin:hunter2@b"}
			}
			err := cfg.Validate()
			if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "URL") {
				t.Fatalf("Validate() = %v", err)
			}
			if _, err := soma.NewClient(cfg); err == nil || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("NewClient: %v", err)
			}
		})
	}
}

// slowAnswer answers after d unless the request is cancelled first.
func slowAnswer(d time.Duration, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Read first: the server notices a client gone only after.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(d): // the service's work, not synchronisation
			fmt.Fprint(w, body)
		case <-r.Context().Done():
		}
	}
}

func TestClientImportTimeout(t *testing.T) {
	const answer = `{"imported":1,"skipped":0,"linked":0,"event_ids":["e"]}`
	t.Run("an_import_chunk_may_take_longer_than_the_request_timeout", func(t *testing.T) {
		srv := httptest.NewServer(slowAnswer(300*time.Millisecond, answer))
		defer srv.Close()
		c := newTestClient(t, soma.ClientConfig{URL: srv.URL, Timeout: 50 * time.Millisecond, ImportTimeout: time.Minute})
		res, err := c.Import(context.Background(), strings.NewReader(`{"coordinate":[1]}`), false)
		if err != nil || res.Imported != 1 {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("an_import_chunk_is_bounded_by_the_import_timeout", func(t *testing.T) {
		srv := httptest.NewServer(slowAnswer(time.Minute, answer))
		defer srv.Close()
		c := newTestClient(t, soma.ClientConfig{URL: srv.URL, Timeout: time.Minute, ImportTimeout: 100 * time.Millisecond})
		start := time.Now()
		_, err := c.Import(context.Background(), strings.NewReader(`{"coordinate":[1]}`), false)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 30*time.Second {
			t.Fatalf("err %v after %v", err, time.Since(start))
		}
	})
}

func TestClientExportIdleTimeout(t *testing.T) {
	const line = "{\"coordinate\":[1]}\n"
	t.Run("a_stalled_stream_fails_instead_of_hanging", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, line)
			w.(http.Flusher).Flush()
			<-r.Context().Done() // stalls until the client gives up
		}))
		defer srv.Close()
		c := newTestClient(t, soma.ClientConfig{URL: srv.URL, ExportIdleTimeout: 200 * time.Millisecond})
		var buf bytes.Buffer
		start := time.Now()
		n, err := c.Export(context.Background(), &buf)
		if err == nil || n != 1 || !errors.Is(err, soma.ErrUnavailable) || !strings.Contains(err.Error(), "stalled") || time.Since(start) > 30*time.Second {
			t.Fatalf("n %d err %v after %v", n, err, time.Since(start))
		}
	})
	t.Run("a_silent_service_fails_before_the_answer", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		defer srv.Close()
		c := newTestClient(t, soma.ClientConfig{URL: srv.URL, ExportIdleTimeout: 100 * time.Millisecond})
		n, err := c.Export(context.Background(), io.Discard)
		if err == nil || n != 0 || !strings.Contains(err.Error(), "stalled") {
			t.Fatalf("n %d err %v", n, err)
		}
	})
	t.Run("a_steady_stream_may_outlast_the_idle_timeout", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for range 6 {
				fmt.Fprint(w, line)
				w.(http.Flusher).Flush()
				select {
				case <-time.After(60 * time.Millisecond): // the service's pace
				case <-r.Context().Done():
					return
				}
			}
		}))
		defer srv.Close()
		c := newTestClient(t, soma.ClientConfig{URL: srv.URL, Timeout: 50 * time.Millisecond, ExportIdleTimeout: 250 * time.Millisecond})
		n, err := c.Export(context.Background(), io.Discard)
		if err != nil || n != 6 {
			t.Fatalf("n %d err %v", n, err)
		}
	})
}
