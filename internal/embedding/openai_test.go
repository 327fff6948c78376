package embedding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const testKey = "sk-test-SECRET-0123456789"

// fakeServer is an OpenAI-compatible /v1/embeddings endpoint whose vector
// for input "in-N" is [N+1, 1, 0, …] (dimension dim), so tests can check
// order. respond, when set, handles request number n (0-based) instead.
type fakeServer struct {
	dim      int
	mu       sync.Mutex
	requests []embeddingsRequest
	auth     []string
	respond  func(w http.ResponseWriter, n int, req embeddingsRequest) bool // true: handled
	srv      *httptest.Server
}

func newFakeServer(t *testing.T, dim int) *fakeServer {
	f := &fakeServer{dim: dim}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" {
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
		return
	}
	var req embeddingsRequest
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, `{"error":"bad json"}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	n := len(f.requests)
	f.requests = append(f.requests, req)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	respond := f.respond
	f.mu.Unlock()
	if respond != nil && respond(w, n, req) {
		return
	}
	writeEmbeddings(w, req.Input, f.dim, true)
}

func (f *fakeServer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// writeEmbeddings answers with the vectors of inputs, in reverse order when
// reversed (clients must reorder by index).
func writeEmbeddings(w http.ResponseWriter, inputs []string, dim int, reversed bool) {
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float64 `json:"embedding"`
	}
	data := make([]item, 0, len(inputs))
	for i, in := range inputs {
		var k int
		fmt.Sscanf(in, "in-%d", &k)
		v := make([]float64, dim)
		v[0] = float64(k + 1)
		if dim > 1 {
			v[1] = 1
		}
		data = append(data, item{"embedding", i, v})
	}
	if reversed {
		for i, j := 0, len(data)-1; i < j; i, j = i+1, j-1 {
			data[i], data[j] = data[j], data[i]
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": "m"})
}

func inputs(n int) []string {
	in := make([]string, n)
	for i := range in {
		in[i] = fmt.Sprintf("in-%d", i)
	}
	return in
}

// newTestOpenAI builds a client of f whose waits are recorded, not slept.
func newTestOpenAI(t *testing.T, f *fakeServer, mod func(*OpenAIConfig)) (*OpenAI, *[]time.Duration) {
	t.Helper()
	cfg := OpenAIConfig{BaseURL: f.srv.URL + "/v1", Model: "test-model", APIKey: testKey, Dim: f.dim, Backoff: 10 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	o, err := NewOpenAI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	waits := &[]time.Duration{}
	o.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	return o, waits
}

func TestOpenAI(t *testing.T) {
	ctx := context.Background()

	t.Run("model_id_and_endpoint", func(t *testing.T) {
		f := newFakeServer(t, 4)
		o, _ := newTestOpenAI(t, f, nil)
		if o.Model() != "openai:test-model/4" || o.Dim() != 4 {
			t.Fatalf("model %s dim %d", o.Model(), o.Dim())
		}
		if o.Endpoint() != f.srv.URL+"/v1/embeddings" {
			t.Fatalf("endpoint %s", o.Endpoint())
		}
		bare, _ := newTestOpenAI(t, f, func(c *OpenAIConfig) { c.BaseURL = f.srv.URL })
		if bare.Endpoint() != f.srv.URL+"/v1/embeddings" {
			t.Fatalf("bare endpoint %s", bare.Endpoint())
		}
	})

	t.Run("splits_150_inputs_into_3_batches_in_order", func(t *testing.T) {
		f := newFakeServer(t, 4)
		o, _ := newTestOpenAI(t, f, func(c *OpenAIConfig) { c.BatchSize = 64 })
		vs, err := o.Embed(ctx, inputs(150))
		if err != nil {
			t.Fatal(err)
		}
		if f.count() != 3 {
			t.Fatalf("%d requests, want 3", f.count())
		}
		for i, n := range []int{64, 64, 22} {
			if got := len(f.requests[i].Input); got != n || f.requests[i].Model != "test-model" {
				t.Fatalf("request %d: %d inputs model %q, want %d", i, got, f.requests[i].Model, n)
			}
		}
		if len(vs) != 150 {
			t.Fatalf("%d vectors", len(vs))
		}
		for i, v := range vs {
			want := float64(i+1) / math.Sqrt(float64((i+1)*(i+1)+1))
			if len(v) != 4 || math.Abs(float64(v[0])-want) > 1e-6 {
				t.Fatalf("vector %d = %v, want first element %v", i, v, want)
			}
		}
	})

	t.Run("sends_bearer_key", func(t *testing.T) {
		f := newFakeServer(t, 2)
		o, _ := newTestOpenAI(t, f, nil)
		if _, err := o.Embed(ctx, []string{"in-0"}); err != nil {
			t.Fatal(err)
		}
		if f.auth[0] != "Bearer "+testKey {
			t.Fatalf("Authorization = %q", f.auth[0])
		}
	})

	t.Run("normalises_unless_disabled", func(t *testing.T) {
		f := newFakeServer(t, 2)
		raw, _ := newTestOpenAI(t, f, func(c *OpenAIConfig) { c.DisableNormalize = true })
		v, err := raw.Embed(ctx, []string{"in-2"})
		if err != nil || v[0][0] != 3 || v[0][1] != 1 {
			t.Fatalf("raw = %v, %v", v, err)
		}
		o, _ := newTestOpenAI(t, f, nil)
		v, err = o.Embed(ctx, []string{"in-2"})
		if err != nil || math.Abs(norm(v[0])-1) > 1e-6 {
			t.Fatalf("normalised = %v, %v", v, err)
		}
	})

	t.Run("empty_input_makes_no_request", func(t *testing.T) {
		f := newFakeServer(t, 2)
		o, _ := newTestOpenAI(t, f, nil)
		vs, err := o.Embed(ctx, nil)
		if err != nil || len(vs) != 0 || f.count() != 0 {
			t.Fatalf("vs %v err %v requests %d", vs, err, f.count())
		}
	})

	t.Run("sends_dimensions_when_asked", func(t *testing.T) {
		f := newFakeServer(t, 2)
		o, _ := newTestOpenAI(t, f, func(c *OpenAIConfig) { c.SendDimensions = true })
		if _, err := o.Embed(ctx, []string{"in-0"}); err != nil {
			t.Fatal(err)
		}
		if f.requests[0].Dimensions != 2 {
			t.Fatalf("dimensions = %d", f.requests[0].Dimensions)
		}
	})

	t.Run("retries_5xx_then_succeeds", func(t *testing.T) {
		f := newFakeServer(t, 2)
		f.respond = func(w http.ResponseWriter, n int, _ embeddingsRequest) bool {
			if n < 2 {
				http.Error(w, "overloaded", http.StatusBadGateway+n) // 502, 503
				return true
			}
			return false
		}
		o, waits := newTestOpenAI(t, f, nil)
		vs, err := o.Embed(ctx, []string{"in-0", "in-1"})
		if err != nil || len(vs) != 2 {
			t.Fatalf("vs %v err %v", vs, err)
		}
		if f.count() != 3 || len(*waits) != 2 {
			t.Fatalf("%d requests, %d waits", f.count(), len(*waits))
		}
		// exponential with jitter: retry n waits in [b/2, b], b = 10ms·2ⁿ
		for n, w := range *waits {
			b := 10 * time.Millisecond << n
			if w < b/2 || w > b {
				t.Fatalf("wait %d = %s, want in [%s, %s]", n, w, b/2, b)
			}
		}
	})

	t.Run("honours_retry_after_on_429", func(t *testing.T) {
		f := newFakeServer(t, 2)
		f.respond = func(w http.ResponseWriter, n int, _ embeddingsRequest) bool {
			if n == 0 {
				w.Header().Set("Retry-After", "2")
				http.Error(w, "slow down", http.StatusTooManyRequests)
				return true
			}
			return false
		}
		o, waits := newTestOpenAI(t, f, nil)
		if _, err := o.Embed(ctx, []string{"in-0"}); err != nil {
			t.Fatal(err)
		}
		if len(*waits) != 1 || (*waits)[0] != 2*time.Second {
			t.Fatalf("waits = %v, want [2s]", *waits)
		}
	})

	t.Run("gives_up_when_retry_after_exceeds_max_backoff", func(t *testing.T) {
		f := newFakeServer(t, 2)
		f.respond = func(w http.ResponseWriter, _ int, _ embeddingsRequest) bool {
			w.Header().Set("Retry-After", "3600")
			http.Error(w, "come back later", http.StatusTooManyRequests)
			return true
		}
		o, waits := newTestOpenAI(t, f, nil)
		_, err := o.Embed(ctx, []string{"in-0"})
		if !errors.Is(err, ErrUnavailable) || f.count() != 1 || len(*waits) != 0 {
			t.Fatalf("err %v, %d requests, waits %v", err, f.count(), *waits)
		}
	})

	t.Run("exhausted_retries_are_unavailable", func(t *testing.T) {
		f := newFakeServer(t, 2)
		f.respond = func(w http.ResponseWriter, _ int, _ embeddingsRequest) bool {
			http.Error(w, "down", http.StatusInternalServerError)
			return true
		}
		o, _ := newTestOpenAI(t, f, func(c *OpenAIConfig) { c.MaxRetries = 2 })
		_, err := o.Embed(ctx, []string{"in-0"})
		if !errors.Is(err, ErrUnavailable) || f.count() != 3 {
			t.Fatalf("err %v after %d requests, want ErrUnavailable after 3", err, f.count())
		}
	})

	t.Run("negative_max_retries_disables_retries", func(t *testing.T) {
		f := newFakeServer(t, 2)
		f.respond = func(w http.ResponseWriter, _ int, _ embeddingsRequest) bool {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return true
		}
		o, _ := newTestOpenAI(t, f, func(c *OpenAIConfig) { c.MaxRetries = -1 })
		if _, err := o.Embed(ctx, []string{"in-0"}); !errors.Is(err, ErrUnavailable) || f.count() != 1 {
			t.Fatalf("err %v after %d requests", err, f.count())
		}
	})

	t.Run("does_not_retry_400", func(t *testing.T) {
		f := newFakeServer(t, 2)
		f.respond = func(w http.ResponseWriter, _ int, _ embeddingsRequest) bool {
			http.Error(w, `{"error":{"message":"input too long"}}`, http.StatusBadRequest)
			return true
		}
		o, waits := newTestOpenAI(t, f, nil)
		_, err := o.Embed(ctx, []string{"in-0"})
		if !errors.Is(err, ErrRejected) || errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrRejected", err)
		}
		if f.count() != 1 || len(*waits) != 0 {
			t.Fatalf("%d requests, %d waits: 400 was retried", f.count(), len(*waits))
		}
		if !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "input too long") {
			t.Fatalf("error lacks status and reason: %v", err)
		}
	})

	badResponses := []struct {
		name string
		body func(req embeddingsRequest) string
	}{
		{"rejects_wrong_dimension", func(req embeddingsRequest) string {
			return `{"data":[{"index":0,"embedding":[1,2,3]}]}`
		}},
		{"rejects_count_mismatch", func(req embeddingsRequest) string {
			return `{"data":[{"index":0,"embedding":[1,2]}]}`
		}},
		{"rejects_repeated_index", func(req embeddingsRequest) string {
			return `{"data":[{"index":0,"embedding":[1,2]},{"index":0,"embedding":[1,2]}]}`
		}},
		{"rejects_out_of_range_index", func(req embeddingsRequest) string {
			return `{"data":[{"index":0,"embedding":[1,2]},{"index":5,"embedding":[1,2]}]}`
		}},
		{"rejects_float32_overflow", func(req embeddingsRequest) string {
			return `{"data":[{"index":0,"embedding":[1e39,2]},{"index":1,"embedding":[1,2]}]}`
		}},
		{"rejects_nan_literal", func(req embeddingsRequest) string {
			return `{"data":[{"index":0,"embedding":[NaN,2]},{"index":1,"embedding":[1,2]}]}`
		}},
		{"rejects_zero_vector", func(req embeddingsRequest) string {
			return `{"data":[{"index":0,"embedding":[0,0]},{"index":1,"embedding":[1,2]}]}`
		}},
		{"rejects_non_json", func(req embeddingsRequest) string { return `<html>gateway</html>` }},
	}
	for _, tc := range badResponses {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeServer(t, 2)
			f.respond = func(w http.ResponseWriter, _ int, req embeddingsRequest) bool {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, tc.body(req))
				return true
			}
			o, _ := newTestOpenAI(t, f, nil)
			in := []string{"in-0", "in-1"}
			if tc.name == "rejects_wrong_dimension" {
				in = in[:1]
			}
			_, err := o.Embed(ctx, in)
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("err = %v, want ErrBadResponse", err)
			}
			if f.count() != 1 {
				t.Fatalf("bad response retried: %d requests", f.count())
			}
		})
	}

	t.Run("accepts_missing_index_in_order", func(t *testing.T) {
		f := newFakeServer(t, 2)
		f.respond = func(w http.ResponseWriter, _ int, _ embeddingsRequest) bool {
			io.WriteString(w, `{"data":[{"embedding":[1,0]},{"embedding":[0,1]}]}`)
			return true
		}
		o, _ := newTestOpenAI(t, f, nil)
		vs, err := o.Embed(ctx, []string{"a", "b"})
		if err != nil || vs[0][0] != 1 || vs[1][1] != 1 {
			t.Fatalf("vs %v err %v", vs, err)
		}
	})

	t.Run("timeout_is_unavailable", func(t *testing.T) {
		f := newFakeServer(t, 2)
		release := make(chan struct{})
		t.Cleanup(func() { close(release) }) // runs before the server's Close
		f.respond = func(w http.ResponseWriter, _ int, _ embeddingsRequest) bool {
			<-release
			return true
		}
		o, waits := newTestOpenAI(t, f, func(c *OpenAIConfig) {
			c.Timeout = 50 * time.Millisecond
			c.MaxRetries = 1
		})
		_, err := o.Embed(ctx, []string{"in-0"})
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if len(*waits) != 1 {
			t.Fatalf("timeout not retried once: waits %v", *waits)
		}
	})

	t.Run("network_error_is_unavailable", func(t *testing.T) {
		f := newFakeServer(t, 2)
		o, _ := newTestOpenAI(t, f, nil)
		f.srv.Close()
		if _, err := o.Embed(ctx, []string{"in-0"}); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})

	t.Run("cancelled_context_stops_a_pending_request", func(t *testing.T) {
		f := newFakeServer(t, 2)
		release := make(chan struct{})
		t.Cleanup(func() { close(release) }) // runs before the server's Close
		started := make(chan struct{}, 1)
		f.respond = func(w http.ResponseWriter, _ int, _ embeddingsRequest) bool {
			started <- struct{}{}
			<-release
			return true
		}
		o, _ := newTestOpenAI(t, f, nil)
		cctx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() {
			_, err := o.Embed(cctx, []string{"in-0"})
			errc <- err
		}()
		<-started
		cancel()
		select {
		case err := <-errc:
			if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v, want context.Canceled and ErrUnavailable", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Embed did not return after cancel")
		}
		if f.count() != 1 {
			t.Fatalf("%d requests after cancel", f.count())
		}
	})

	t.Run("cancelled_context_stops_the_backoff", func(t *testing.T) {
		f := newFakeServer(t, 2)
		f.respond = func(w http.ResponseWriter, _ int, _ embeddingsRequest) bool {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return true
		}
		o, _ := newTestOpenAI(t, f, func(c *OpenAIConfig) { c.Backoff = time.Hour; c.MaxBackoff = 2 * time.Hour })
		o.sleep = sleepCtx // real wait, ended by the deadline
		dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := o.Embed(dctx, []string{"in-0"})
		if !errors.Is(err, context.DeadlineExceeded) || f.count() != 1 {
			t.Fatalf("err = %v after %d requests", err, f.count())
		}
	})

	t.Run("key_never_appears_in_errors", func(t *testing.T) {
		f := newFakeServer(t, 2)
		f.respond = func(w http.ResponseWriter, n int, _ embeddingsRequest) bool {
			switch n {
			case 0: // echo the key like some servers do
				http.Error(w, "Incorrect API key provided: "+testKey, http.StatusUnauthorized)
			case 1:
				http.Error(w, "bad gateway for "+testKey, http.StatusBadGateway)
			default:
				io.WriteString(w, `{"data": "`+testKey+`"}`)
			}
			return true
		}
		o, _ := newTestOpenAI(t, f, func(c *OpenAIConfig) { c.MaxRetries = -1 })
		for range 3 {
			_, err := o.Embed(ctx, []string{"in-0"})
			if err == nil {
				t.Fatal("want error")
			}
			if strings.Contains(err.Error(), testKey) || strings.Contains(fmt.Sprintf("%+v", err), testKey) {
				t.Fatalf("key leaked: %v", err)
			}
		}
		cfg := OpenAIConfig{BaseURL: "http://x/v1", Model: "m", APIKey: testKey, Dim: 2}
		for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(o)} {
			if strings.Contains(s, testKey) {
				t.Fatalf("key leaked by formatting: %s", s)
			}
		}
	})
}

func TestOpenAIConfigValidate(t *testing.T) {
	valid := OpenAIConfig{BaseURL: "http://localhost:11434/v1", Model: "m", Dim: 8}
	cases := []struct {
		name string
		mod  func(*OpenAIConfig)
		want string // substring of the error, "" for valid
	}{
		{"accepts_minimal_config", func(*OpenAIConfig) {}, ""},
		{"rejects_missing_base_url", func(c *OpenAIConfig) { c.BaseURL = "" }, "base URL is required"},
		{"rejects_relative_base_url", func(c *OpenAIConfig) { c.BaseURL = "localhost:11434" }, "absolute http"},
		{"rejects_missing_model", func(c *OpenAIConfig) { c.Model = " " }, "model is required"},
		{"rejects_zero_dim", func(c *OpenAIConfig) { c.Dim = 0 }, "dimension"},
		{"rejects_huge_batch", func(c *OpenAIConfig) { c.BatchSize = 5000 }, "batch size"},
		{"rejects_negative_timeout", func(c *OpenAIConfig) { c.Timeout = -1 }, "timeout"},
		{"rejects_key_with_newline", func(c *OpenAIConfig) { c.APIKey = "sk-abc\nX-Evil: 1" }, "API key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid
			tc.mod(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "sk-abc") {
				t.Fatalf("key leaked: %v", err)
			}
		})
	}
	t.Run("reports_every_problem_at_once", func(t *testing.T) {
		err := OpenAIConfig{}.Validate()
		for _, want := range []string{"base URL", "model", "dimension"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want it to mention %q", err, want)
			}
		}
	})
}
