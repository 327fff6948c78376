package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/internal/httpx"
)

// fakeServer speaks just enough of the API to exercise the runners'
// accounting: every way of failing that the runners must count. The real
// server is exercised by TestAgainstSomaServe.
type fakeServer struct {
	mu      sync.Mutex
	records map[string]map[string]any // namespace|coord → record
	seq     int64

	fail        func(n int64) int // status to answer for the n-th request (0: fine)
	shortStored bool              // /store_bulk reports one item fewer
	dropWrites  bool              // accept writes without keeping them
	badMatches  bool              // /recall answers more than top_k
	block       bool              // hold every request until the client gives up
	requests    atomic.Int64
	tokensSeen  atomic.Int64
	// stopped releases blocked handlers when the test ends, so the
	// server can close even if the client kept its connections open.
	stopped chan struct{}
}

func (f *fakeServer) start(t *testing.T) string {
	t.Helper()
	f.records = map[string]map[string]any{}
	f.stopped = make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(f.stopped) }) // runs first: cleanups are LIFO
	return srv.URL
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	n := f.requests.Add(1)
	if f.block {
		// The server notices a client hanging up only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-f.stopped:
		}
		return
	}
	if f.fail != nil {
		if code := f.fail(n); code != 0 {
			writeJSON(w, code, map[string]string{"detail": "injected"})
			return
		}
	}
	ns := r.Header.Get(httpx.HeaderNamespace)
	if r.Header.Get(consistency.Header) != "" {
		f.tokensSeen.Add(1)
	}
	switch r.URL.Path {
	case routeStore:
		var it storeItem
		if err := json.NewDecoder(r.Body).Decode(&it); err != nil {
			writeJSON(w, 422, map[string]string{"detail": err.Error()})
			return
		}
		tok := f.put(ns, []storeItem{it})
		w.Header().Set(consistency.Header, tok)
		writeJSON(w, 200, map[string]any{"ok": true, "consistency_token": tok})
	case routeStoreBulk:
		var body struct{ Items []storeItem }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, 422, map[string]string{"detail": err.Error()})
			return
		}
		tok := f.put(ns, body.Items)
		stored := len(body.Items)
		if f.shortStored {
			stored--
		}
		w.Header().Set(consistency.Header, tok)
		writeJSON(w, 200, map[string]any{"stored": stored})
	case routeRecall:
		var q recallRequest
		_ = json.NewDecoder(r.Body).Decode(&q)
		k := q.TopK
		if f.badMatches {
			k++
		}
		matches := []map[string]any{}
		f.mu.Lock()
		for key, rec := range f.records {
			if len(matches) == k {
				break
			}
			if strings.HasPrefix(key, ns+"|") {
				matches = append(matches, rec)
			}
		}
		f.mu.Unlock()
		writeJSON(w, 200, map[string]any{"matches": matches})
	case routeMemory:
		f.mu.Lock()
		rec, ok := f.records[ns+"|"+r.URL.Query().Get("coord")]
		f.mu.Unlock()
		if !ok {
			writeJSON(w, 404, map[string]string{"detail": "Memory not found"})
			return
		}
		writeJSON(w, 200, rec)
	default:
		writeJSON(w, 404, map[string]string{"detail": "Not Found"})
	}
}

func (f *fakeServer) put(ns string, items []storeItem) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, it := range items {
		f.seq++
		if f.dropWrites {
			continue
		}
		f.records[ns+"|"+it.Coord] = map[string]any{"text": it.Payload.Text, "bench_seq": it.Payload.Seq}
	}
	tok := consistency.Token{Source: consistency.EventLogSource}
	tok.Add(0, f.seq)
	return tok.Encode()
}

func (f *fakeServer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.records)
}

func fakeTarget(url string) Target {
	return Target{URL: url, Namespace: "bench-test", Timeout: 5 * time.Second}
}

func totalErrors(r *Result) int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

func TestIngest(t *testing.T) {
	ctx := context.Background()
	t.Run("stores_every_memory_in_batches", func(t *testing.T) {
		f := &fakeServer{}
		res, err := Ingest(ctx, IngestConfig{Target: fakeTarget(f.start(t)), N: 1050, Batch: 100, Concurrency: 4})
		if err != nil {
			t.Fatal(err)
		}
		if res.Stop != StopCompleted || res.Throughput.Memories != 1050 || res.Throughput.Requests != 11 || totalErrors(res) != 0 {
			t.Fatalf("result %+v", res)
		}
		if f.count() != 1050 || res.Latency.Count != 11 {
			t.Fatalf("server holds %d, latency samples %d", f.count(), res.Latency.Count)
		}
	})
	t.Run("stores_one_by_one_with_batch_1", func(t *testing.T) {
		f := &fakeServer{}
		res, err := Ingest(ctx, IngestConfig{Target: fakeTarget(f.start(t)), N: 300, Batch: 1, Concurrency: 16})
		if err != nil {
			t.Fatal(err)
		}
		if res.Throughput.Memories != 300 || res.Throughput.Requests != 300 || f.count() != 300 {
			t.Fatalf("result %+v, server %d", res.Throughput, f.count())
		}
	})
	t.Run("counts_failed_statuses_by_route", func(t *testing.T) {
		f := &fakeServer{fail: func(n int64) int {
			if n%5 == 0 {
				return 503
			}
			return 0
		}}
		res, _ := Ingest(ctx, IngestConfig{Target: fakeTarget(f.start(t)), N: 100, Batch: 0, Concurrency: 1})
		if res.Errors["/store 503"] != 20 || res.Throughput.Memories != 80 || res.Throughput.Requests != 100 {
			t.Fatalf("errors %v, throughput %+v", res.Errors, res.Throughput)
		}
	})
	t.Run("counts_a_short_stored_count_as_invalid", func(t *testing.T) {
		f := &fakeServer{shortStored: true}
		res, _ := Ingest(ctx, IngestConfig{Target: fakeTarget(f.start(t)), N: 200, Batch: 50})
		if res.Errors["/store_bulk invalid"] != 4 || res.Throughput.Memories != 0 {
			t.Fatalf("errors %v, memories %d", res.Errors, res.Throughput.Memories)
		}
	})
	t.Run("counts_an_unreachable_server_as_transport_errors", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close() // nothing listens at its address any more
		res, _ := Ingest(ctx, IngestConfig{Target: fakeTarget(srv.URL), N: 10, Batch: 0, Concurrency: 2})
		if res.Errors["/store transport"] != 10 || res.Throughput.Memories != 0 {
			t.Fatalf("errors %v", res.Errors)
		}
	})
	t.Run("stops_at_the_duration_bound", func(t *testing.T) {
		f := &fakeServer{block: true}
		res, _ := Ingest(ctx, IngestConfig{Target: fakeTarget(f.start(t)), N: 100, Duration: 100 * time.Millisecond})
		if res.Stop != StopDuration || totalErrors(res) != 0 || res.Throughput.Requests != 0 {
			t.Fatalf("stop %s, errors %v, requests %d", res.Stop, res.Errors, res.Throughput.Requests)
		}
	})
	t.Run("stops_when_interrupted", func(t *testing.T) {
		f := &fakeServer{block: true}
		url := f.start(t)
		ctx, cancel := context.WithCancel(ctx)
		go func() {
			deadline := time.Now().Add(10 * time.Second)
			for f.requests.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond) // poll for the first request
			}
			cancel()
		}()
		res, _ := Ingest(ctx, IngestConfig{Target: fakeTarget(url), N: 100})
		if res.Stop != StopInterrupted {
			t.Fatalf("stop %s", res.Stop)
		}
	})
	t.Run("refuses_a_remote_target", func(t *testing.T) {
		_, err := Ingest(ctx, IngestConfig{Target: Target{URL: "http://192.0.2.1:9595", Namespace: "n"}})
		if err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRecall(t *testing.T) {
	ctx := context.Background()
	t.Run("loads_waits_with_the_token_then_recalls", func(t *testing.T) {
		f := &fakeServer{}
		res, err := Recall(ctx, RecallConfig{Target: fakeTarget(f.start(t)), Load: 500, LoadBatch: 100, Requests: 200, Concurrency: 4})
		if err != nil {
			t.Fatal(err)
		}
		if f.count() != 500 || res.Throughput.Requests != 200 || res.Latency.Count != 200 || totalErrors(res) != 0 || res.Misses != 0 {
			t.Fatalf("server %d, result %+v", f.count(), res)
		}
		if f.tokensSeen.Load() != 1 {
			t.Fatalf("%d requests carried a token, want only the visibility check", f.tokensSeen.Load())
		}
		if res.Phases["load"].Count != 5 {
			t.Fatalf("load phase %+v", res.Phases["load"])
		}
	})
	t.Run("counts_more_than_top_k_as_invalid", func(t *testing.T) {
		f := &fakeServer{badMatches: true}
		res, err := Recall(ctx, RecallConfig{Target: fakeTarget(f.start(t)), Load: 50, TopK: 5, Requests: 20})
		if err != nil {
			t.Fatal(err)
		}
		if res.Errors["/recall invalid"] != 20 {
			t.Fatalf("errors %v", res.Errors)
		}
	})
	t.Run("counts_empty_answers_from_a_loaded_namespace_as_misses", func(t *testing.T) {
		f := &fakeServer{dropWrites: true}
		res, err := Recall(ctx, RecallConfig{Target: fakeTarget(f.start(t)), Load: 10, Requests: 30})
		if err != nil {
			t.Fatal(err)
		}
		if res.Misses != 30 {
			t.Fatalf("misses %d", res.Misses)
		}
	})
	t.Run("fails_when_the_load_fails", func(t *testing.T) {
		f := &fakeServer{fail: func(int64) int { return 500 }}
		res, err := Recall(ctx, RecallConfig{Target: fakeTarget(f.start(t)), Load: 10, Requests: 30})
		if err == nil || res.Stop != StopFailed || res.Errors["/store_bulk 500"] != 1 {
			t.Fatalf("err %v, result %+v", err, res)
		}
	})
	t.Run("runs_for_the_duration_without_a_count_bound", func(t *testing.T) {
		f := &fakeServer{}
		res, err := Recall(ctx, RecallConfig{Target: fakeTarget(f.start(t)), Requests: -1, Duration: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if res.Stop != StopDuration || res.Throughput.Requests == 0 {
			t.Fatalf("stop %s, requests %d", res.Stop, res.Throughput.Requests)
		}
	})
}

func TestE2E(t *testing.T) {
	ctx := context.Background()
	t.Run("reads_every_write_with_its_token", func(t *testing.T) {
		f := &fakeServer{}
		res, err := E2E(ctx, E2EConfig{Target: fakeTarget(f.start(t)), Rate: 2000, Requests: 100, Duration: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if res.Stop != StopCompleted || res.Misses != 0 || totalErrors(res) != 0 {
			t.Fatalf("result %+v", res)
		}
		if res.Throughput.Memories+res.Throughput.Skipped != 100 || res.Latency.Count != int(res.Throughput.Memories) {
			t.Fatalf("throughput %+v, latency %+v", res.Throughput, res.Latency)
		}
		if f.tokensSeen.Load() != res.Throughput.Memories {
			t.Fatalf("%d reads carried a token, want %d", f.tokensSeen.Load(), res.Throughput.Memories)
		}
		if res.Phases["store"].Count != res.Latency.Count || res.Phases["read"].Count != res.Latency.Count {
			t.Fatalf("phases %+v", res.Phases)
		}
	})
	t.Run("counts_reads_that_do_not_see_the_write_as_misses", func(t *testing.T) {
		f := &fakeServer{dropWrites: true}
		res, _ := E2E(ctx, E2EConfig{Target: fakeTarget(f.start(t)), Rate: 1000, Requests: 50})
		if res.Misses != res.Throughput.Memories || res.Misses == 0 || res.Latency.Count != 0 {
			t.Fatalf("misses %d of %d, latency %+v", res.Misses, res.Throughput.Memories, res.Latency)
		}
	})
	t.Run("sends_no_token_in_no_token_mode", func(t *testing.T) {
		f := &fakeServer{}
		res, _ := E2E(ctx, E2EConfig{Target: fakeTarget(f.start(t)), Rate: 1000, Requests: 50, NoToken: true})
		if f.tokensSeen.Load() != 0 || res.Throughput.Memories == 0 || res.Config["token"] != false {
			t.Fatalf("tokens %d, result %+v", f.tokensSeen.Load(), res)
		}
	})
	t.Run("holds_the_target_rate", func(t *testing.T) {
		f := &fakeServer{}
		res, _ := E2E(ctx, E2EConfig{Target: fakeTarget(f.start(t)), Rate: 500, Duration: 400 * time.Millisecond})
		if got := res.Throughput.Memories + res.Throughput.Skipped; got < 150 || got > 210 {
			t.Fatalf("%d operations due in 400ms at 500/s", got)
		}
	})
	t.Run("counts_store_failures_as_errors_not_misses", func(t *testing.T) {
		f := &fakeServer{fail: func(int64) int { return 429 }}
		res, _ := E2E(ctx, E2EConfig{Target: fakeTarget(f.start(t)), Rate: 1000, Requests: 20})
		if res.Errors["/store 429"] == 0 || res.Misses != 0 || len(res.Notes) == 0 {
			t.Fatalf("errors %v, misses %d, notes %v", res.Errors, res.Misses, res.Notes)
		}
	})
}

func TestReplay(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper := func(code int) []string {
		return append(os.Environ(), fmt.Sprintf("BENCH_HELPER_EXIT=%d", code))
	}
	t.Run("times_each_run", func(t *testing.T) {
		res, err := Replay(context.Background(), ReplayConfig{Binary: exe, Args: []string{"-test.run=TestHelperProcess"}, Env: helper(0), Runs: 2})
		if err != nil {
			t.Fatal(err)
		}
		if res.Latency.Count != 2 || totalErrors(res) != 0 || res.Stop != StopCompleted {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("counts_a_non_zero_exit", func(t *testing.T) {
		res, err := Replay(context.Background(), ReplayConfig{Binary: exe, Args: []string{"-test.run=TestHelperProcess"}, Env: helper(3), Runs: 3})
		if err != nil {
			t.Fatal(err)
		}
		if res.Errors["replay exit 3"] != 1 || res.Throughput.Requests != 1 {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("requires_arguments", func(t *testing.T) {
		if _, err := Replay(context.Background(), ReplayConfig{Binary: exe}); err == nil {
			t.Fatal("no error")
		}
	})
}

// TestHelperProcess is the child of TestReplay: it exits with
// BENCH_HELPER_EXIT.
func TestHelperProcess(t *testing.T) {
	code := os.Getenv("BENCH_HELPER_EXIT")
	if code == "" {
		return
	}
	var n int
	fmt.Sscan(code, &n)
	os.Exit(n)
}
