package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults and bounds of a recall run.
const (
	DefaultTopK      = 10
	DefaultLoadBatch = 1000
	DefaultRequests  = 2000
	// MaxRequests bounds the requests of one run.
	MaxRequests = 10_000_000
	// MaxTopK is the server's top_k limit.
	MaxTopK = 1000
	// visibleTimeout bounds the wait for loaded memories to be visible;
	// retryPause spaces the polls.
	visibleTimeout = time.Minute
	retryPause     = 50 * time.Millisecond
)

// RecallConfig configures Recall. Zero fields take their defaults.
type RecallConfig struct {
	Target Target
	Seed   int64
	// Load memories (Workload.Memory(0…Load-1)) are stored first through
	// /store_bulk in batches of LoadBatch, and the run waits until they
	// are visible; 0 recalls whatever the namespace holds.
	Load      int
	LoadBatch int
	// TopK of every recall. Default DefaultTopK.
	TopK int
	// Requests bounds the recalls sent: Workload.Query(0…Requests-1).
	// Default DefaultRequests; -1: no count bound (Duration only).
	Requests int
	// Concurrency is the number of recalls in flight. Default
	// DefaultConcurrency.
	Concurrency int
	// Duration bounds the load and the measured phase, each. Default
	// DefaultMaxDuration.
	Duration time.Duration
}

func (c RecallConfig) withDefaults() RecallConfig {
	c.Target = c.Target.withDefaults()
	if c.LoadBatch == 0 {
		c.LoadBatch = DefaultLoadBatch
	}
	if c.TopK == 0 {
		c.TopK = DefaultTopK
	}
	if c.Requests == 0 {
		c.Requests = DefaultRequests
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Duration == 0 {
		c.Duration = DefaultMaxDuration
	}
	return c
}

// Validate reports every problem of the configuration (after defaults).
func (c RecallConfig) Validate() error {
	c = c.withDefaults()
	errs := []error{c.Target.Validate(),
		checkRange("load", c.Load, 0, MaxN), checkRange("load-batch", c.LoadBatch, 1, MaxBatch),
		checkRange("top-k", c.TopK, 1, MaxTopK), checkRange("concurrency", c.Concurrency, 1, MaxConcurrency)}
	if c.Requests != -1 {
		errs = append(errs, checkRange("requests", c.Requests, 1, MaxRequests))
	}
	if c.Duration < 0 {
		errs = append(errs, errors.New("duration must not be negative"))
	}
	return errors.Join(errs...)
}

func (c RecallConfig) describe() map[string]any {
	return map[string]any{
		"url": c.Target.URL, "query_url": c.Target.QueryURL, "namespace": c.Target.Namespace, "seed": c.Seed,
		"load": c.Load, "load_batch": c.LoadBatch, "top_k": c.TopK, "requests": c.Requests,
		"concurrency": c.Concurrency, "duration": c.Duration.String(),
	}
}

// Recall loads cfg.Load memories (if any), waits until the query API
// sees them, then sends recall queries and reports req/s and the latency
// of each successful recall. Answers are checked: 200, a `matches` array
// of at most TopK objects; an empty array from a loaded namespace is a
// miss. It returns an error for an invalid configuration or when the
// load fails (the result then still describes the load).
func Recall(ctx context.Context, cfg RecallConfig) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := newClient(cfg.Target, cfg.Concurrency)
	defer c.close()
	res := newResult("recall", cfg.describe())
	wl := NewWorkload(cfg.Seed)
	r := &recaller{c: c, wl: wl, topK: cfg.TopK, loaded: cfg.Load > 0}

	if cfg.Load > 0 {
		l := &loader{c: c, wl: wl, n: cfg.Load, batch: cfg.LoadBatch, concurrency: min(cfg.Concurrency, 4)}
		stop := l.run(ctx, cfg.Duration)
		res.Phases = map[string]Summary{"load": l.lat.Summary()}
		r.errs.m = l.errs.snapshot()
		if stop != StopCompleted || l.stored.Load() != int64(cfg.Load) {
			res.Stop = StopFailed
			res.finish(0, 0, &r.errs)
			return res, fmt.Errorf("load stored %d of %d memories (%s)", l.stored.Load(), cfg.Load, stop)
		}
		if err := r.waitVisible(ctx, l.lastToken().Encode()); err != nil {
			res.Stop = StopFailed
			res.finish(0, 0, &r.errs)
			return res, err
		}
	}

	start := time.Now()
	res.Stop = r.run(ctx, cfg.Requests, cfg.Concurrency, cfg.Duration)
	elapsed := time.Since(start)
	res.Latency = r.lat.Summary()
	res.Misses = r.misses.Load()
	res.finish(elapsed, r.requests.Load(), &r.errs)
	return res, nil
}

type recaller struct {
	c      *client
	wl     Workload
	topK   int
	loaded bool

	lat      Recorder
	errs     tally
	requests atomic.Int64
	misses   atomic.Int64
}

// recallRequest is the body of POST /recall.
type recallRequest struct {
	Query string `json:"query"`
	TopK  int    `json:"top_k"`
}

// waitVisible sends one recall carrying token (the query API waits until
// its read models have applied it) and retries a 503 until visibleTimeout.
func (r *recaller) waitVisible(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, visibleTimeout)
	defer cancel()
	body, _ := json.Marshal(recallRequest{Query: r.wl.Query(0), TopK: r.topK})
	for {
		resp, err := r.c.do(ctx, http.MethodPost, r.c.target.QueryURL+routeRecall, body, token)
		switch {
		case err != nil:
			return fmt.Errorf("wait for the loaded memories: %w", err)
		case resp.status == http.StatusOK:
			return nil
		case resp.status != http.StatusServiceUnavailable:
			return fmt.Errorf("wait for the loaded memories: recall answered %d: %s", resp.status, truncate(resp.body, 200))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("loaded memories not visible after %s", visibleTimeout)
		case <-time.After(retryPause):
		}
	}
}

// run sends recalls until requests (if ≥ 0) are sent or d has passed.
func (r *recaller) run(ctx context.Context, requests, concurrency int, d time.Duration) string {
	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for runCtx.Err() == nil {
				k := int(next.Add(1) - 1)
				if requests >= 0 && k >= requests {
					return
				}
				r.recall(runCtx, k)
			}
		})
	}
	wg.Wait()
	return stopReason(ctx, runCtx)
}

func (r *recaller) recall(ctx context.Context, k int) {
	body, _ := json.Marshal(recallRequest{Query: r.wl.Query(k), TopK: r.topK})
	t0 := time.Now()
	resp, err := r.c.do(ctx, http.MethodPost, r.c.target.QueryURL+routeRecall, body, "")
	if err != nil {
		if ctx.Err() == nil {
			r.requests.Add(1)
			r.errs.add(routeRecall, kindTransport)
		}
		return
	}
	r.requests.Add(1)
	if resp.status != http.StatusOK {
		r.errs.status(routeRecall, resp.status)
		return
	}
	r.lat.Record(time.Since(t0))
	var ans struct {
		Matches *[]json.RawMessage `json:"matches"`
	}
	if err := json.Unmarshal(resp.body, &ans); err != nil || ans.Matches == nil || len(*ans.Matches) > r.topK {
		r.errs.add(routeRecall, kindInvalid)
		return
	}
	for _, m := range *ans.Matches {
		if len(m) == 0 || m[0] != '{' {
			r.errs.add(routeRecall, kindInvalid)
			return
		}
	}
	if r.loaded && len(*ans.Matches) == 0 {
		r.misses.Add(1)
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
