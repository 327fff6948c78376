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

	"github.com/somafractalmemory/soma/internal/consistency"
)

// Defaults and bounds of an ingest run.
const (
	DefaultN           = 10000
	DefaultConcurrency = 8
	DefaultMaxDuration = 10 * time.Minute
	// MaxN bounds the memories of one run.
	MaxN = 10_000_000
	// MaxBatch is the server's /store_bulk limit.
	MaxBatch = 10000
	// MaxConcurrency bounds the requests in flight.
	MaxConcurrency = 4096
)

// IngestConfig configures Ingest. Zero fields take their defaults.
type IngestConfig struct {
	Target Target
	Seed   int64
	// N memories are stored: Workload.Memory(0) … Memory(N-1). Default
	// DefaultN.
	N int
	// Batch is the number of items per /store_bulk request; 0 or 1 sends
	// one /store per memory.
	Batch int
	// Concurrency is the number of requests in flight. Default
	// DefaultConcurrency.
	Concurrency int
	// Duration bounds the run; when reached it stops with StopDuration.
	// Default DefaultMaxDuration.
	Duration time.Duration
}

func (c IngestConfig) withDefaults() IngestConfig {
	c.Target = c.Target.withDefaults()
	if c.N == 0 {
		c.N = DefaultN
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
func (c IngestConfig) Validate() error {
	c = c.withDefaults()
	errs := []error{c.Target.Validate()}
	errs = append(errs, checkRange("n", c.N, 1, MaxN), checkRange("batch", c.Batch, 0, MaxBatch),
		checkRange("concurrency", c.Concurrency, 1, MaxConcurrency))
	if c.Duration < 0 {
		errs = append(errs, errors.New("duration must not be negative"))
	}
	return errors.Join(errs...)
}

func (c IngestConfig) describe() map[string]any {
	return map[string]any{
		"url": c.Target.URL, "namespace": c.Target.Namespace, "seed": c.Seed, "n": c.N,
		"batch": c.Batch, "concurrency": c.Concurrency, "duration": c.Duration.String(),
	}
}

// Ingest stores cfg.N memories and reports memories/s, requests/s and the
// latency of each successful request. Every answer is checked; failures
// are counted in Result.Errors, never retried. It returns an error only
// for an invalid configuration.
func Ingest(ctx context.Context, cfg IngestConfig) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := newClient(cfg.Target, cfg.Concurrency)
	defer c.close()
	res := newResult("ingest", cfg.describe())
	l := &loader{c: c, wl: NewWorkload(cfg.Seed), n: cfg.N, batch: cfg.Batch, concurrency: cfg.Concurrency}
	start := time.Now()
	res.Stop = l.run(ctx, cfg.Duration)
	elapsed := time.Since(start)
	res.Throughput.Memories = l.stored.Load()
	res.Latency = l.lat.Summary()
	res.finish(elapsed, l.requests.Load(), &l.errs)
	return res, nil
}

// loader stores memories [0, n) of a workload with concurrent requests.
type loader struct {
	c           *client
	wl          Workload
	n, batch    int
	concurrency int

	lat      Recorder
	errs     tally
	stored   atomic.Int64
	requests atomic.Int64

	mu    sync.Mutex
	token consistency.Token // merged tokens of every accepted request
}

// storeItem is one item of /store and /store_bulk requests.
type storeItem struct {
	Coord   string  `json:"coord"`
	Payload Payload `json:"payload"`
	Type    string  `json:"type"`
}

func itemOf(m Memory) storeItem { return storeItem{Coord: m.Coord, Payload: m.Payload, Type: m.Type} }

// run sends every request, bounded by d, and says why it stopped.
func (l *loader) run(ctx context.Context, d time.Duration) string {
	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	per := max(l.batch, 1)
	reqs := (l.n + per - 1) / per
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(l.concurrency, reqs) {
		wg.Go(func() {
			for runCtx.Err() == nil {
				k := int(next.Add(1) - 1)
				if k >= reqs {
					return
				}
				lo, hi := k*per, min((k+1)*per, l.n)
				if l.batch <= 1 {
					l.storeOne(runCtx, l.wl.Memory(lo))
				} else {
					l.storeBulk(runCtx, lo, hi)
				}
			}
		})
	}
	wg.Wait()
	return stopReason(ctx, runCtx)
}

// stopReason tells a finished run from one cut short.
func stopReason(parent, run context.Context) string {
	switch {
	case parent.Err() != nil:
		return StopInterrupted
	case run.Err() != nil:
		return StopDuration
	default:
		return StopCompleted
	}
}

func (l *loader) storeOne(ctx context.Context, m Memory) {
	body, _ := json.Marshal(itemOf(m)) // plain structs: cannot fail
	var ans struct {
		OK bool `json:"ok"`
	}
	if l.send(ctx, routeStore, body, &ans) && !ans.OK {
		l.errs.add(routeStore, kindInvalid)
		return
	}
	if ans.OK {
		l.stored.Add(1)
	}
}

func (l *loader) storeBulk(ctx context.Context, lo, hi int) {
	items := make([]storeItem, 0, hi-lo)
	for i := lo; i < hi; i++ {
		items = append(items, itemOf(l.wl.Memory(i)))
	}
	body, _ := json.Marshal(struct {
		Items []storeItem `json:"items"`
	}{items})
	var ans struct {
		Stored *int `json:"stored"`
	}
	if !l.send(ctx, routeStoreBulk, body, &ans) {
		return
	}
	if ans.Stored == nil || *ans.Stored != len(items) {
		l.errs.add(routeStoreBulk, kindInvalid)
		return
	}
	l.stored.Add(int64(len(items)))
}

// send posts body to route, counts the request, records the latency of a
// 200 and decodes it into ans. It reports whether the answer was a 200
// with a decodable body; anything else is counted as an error, except a
// request cut short by the end of the run.
func (l *loader) send(ctx context.Context, route string, body []byte, ans any) bool {
	t0 := time.Now()
	resp, err := l.c.do(ctx, http.MethodPost, l.c.target.URL+route, body, "")
	if err != nil {
		if ctx.Err() == nil {
			l.requests.Add(1)
			l.errs.add(route, kindTransport)
		}
		return false
	}
	l.requests.Add(1)
	if resp.status != http.StatusOK {
		l.errs.status(route, resp.status)
		return false
	}
	l.lat.Record(time.Since(t0))
	if err := json.Unmarshal(resp.body, ans); err != nil {
		l.errs.add(route, kindInvalid)
		return false
	}
	if err := l.addToken(resp.header.Get(consistency.Header)); err != nil {
		l.errs.add(route, kindInvalid)
		return false
	}
	return true
}

func (l *loader) addToken(s string) error {
	tok, err := consistency.Parse(s)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	merged, err := l.token.Merge(tok)
	if err != nil {
		return err
	}
	l.token = merged
	return nil
}

// lastToken is the token covering every accepted write.
func (l *loader) lastToken() consistency.Token {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.token
}

func checkRange(name string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%s must be in [%d, %d], got %d", name, lo, hi, v)
	}
	return nil
}
