package bench

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/somafractalmemory/soma/internal/consistency"
)

// Defaults and bounds of an e2e run.
const (
	DefaultRate        = 1000
	DefaultE2EDuration = 10 * time.Second
	DefaultE2EWorkers  = 64
	// MaxRate bounds the target rate.
	MaxRate = 1_000_000
	// tickEvery is the pacing clock; each tick starts the operations due
	// since the start, so the rate holds whatever the timer resolution.
	tickEvery = time.Millisecond
)

// E2EConfig configures E2E. Zero fields take their defaults.
type E2EConfig struct {
	Target Target
	Seed   int64
	// Rate is the target of store+read operations started per second.
	// Default DefaultRate.
	Rate float64
	// Duration bounds the run. Default DefaultE2EDuration.
	Duration time.Duration
	// Requests, when > 0, also bounds the operations started.
	Requests int
	// Concurrency is the number of operations in flight; a tick that
	// finds every worker busy is skipped and counted. Default
	// DefaultE2EWorkers.
	Concurrency int
	// NoToken reads without the consistency token, to measure how many
	// reads miss a write just acknowledged.
	NoToken bool
}

func (c E2EConfig) withDefaults() E2EConfig {
	c.Target = c.Target.withDefaults()
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Duration == 0 {
		c.Duration = DefaultE2EDuration
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultE2EWorkers
	}
	return c
}

// Validate reports every problem of the configuration (after defaults).
func (c E2EConfig) Validate() error {
	c = c.withDefaults()
	errs := []error{c.Target.Validate(), checkRange("concurrency", c.Concurrency, 1, MaxConcurrency),
		checkRange("requests", c.Requests, 0, MaxRequests)}
	if !(c.Rate > 0 && c.Rate <= MaxRate) { // also rejects NaN
		errs = append(errs, errors.New("rate must be in (0, 1000000]"))
	}
	if c.Duration < 0 {
		errs = append(errs, errors.New("duration must not be negative"))
	}
	return errors.Join(errs...)
}

func (c E2EConfig) describe() map[string]any {
	return map[string]any{
		"url": c.Target.URL, "query_url": c.Target.QueryURL, "namespace": c.Target.Namespace, "seed": c.Seed,
		"rate": c.Rate, "duration": c.Duration.String(), "requests": c.Requests, "concurrency": c.Concurrency,
		"token": !c.NoToken,
	}
}

// E2E stores one memory per operation with /store and immediately reads
// it back with GET /memory on the query API, sending the consistency
// token of the write (unless NoToken). Result.Latency is write→visible:
// from sending the store to receiving the matching record; phases "store"
// and "read" split it. A 404 or a record other than the one written is a
// miss; other failures are Errors. Operations start at Rate per second
// (paced from the start time, not by the answers), so the run shows
// whether the server keeps up; Throughput.Skipped counts operations that
// could not start because Concurrency operations were in flight.
func E2E(ctx context.Context, cfg E2EConfig) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := newClient(cfg.Target, cfg.Concurrency)
	defer c.close()
	res := newResult("e2e", cfg.describe())
	e := &e2eRun{c: c, wl: NewWorkload(cfg.Seed), noToken: cfg.NoToken}

	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	jobs := make(chan int) // unbuffered: an operation starts only on an idle worker
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Go(func() {
			for i := range jobs {
				e.op(runCtx, i)
			}
		})
	}
	start := time.Now()
	_, skipped := pace(runCtx, start, cfg.Rate, cfg.Requests, jobs)
	res.Stop = stopReason(ctx, runCtx)
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)

	res.Throughput.TargetRate = cfg.Rate
	res.Throughput.Skipped = skipped
	res.Throughput.Memories = e.stored.Load()
	res.Latency = e.visible.Summary()
	res.Phases = map[string]Summary{"store": e.store.Summary(), "read": e.read.Summary()}
	res.Misses = e.misses.Load()
	res.finish(elapsed, e.requests.Load(), &e.errs)
	if cfg.NoToken && res.Misses > 0 {
		res.Notes = append(res.Notes, "reads without the consistency token may miss writes the read models have not applied yet; misses count them")
	}
	return res, nil
}

// pace offers operation indexes to jobs at rate per second from start,
// until ctx ends or limit (if > 0) operations are due. An index offered
// while no worker is idle is skipped, not queued, so a slow server shows
// as skips rather than as a hidden queue. It returns how many started and
// how many were skipped.
func pace(ctx context.Context, start time.Time, rate float64, limit int, jobs chan<- int) (started, skipped int64) {
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	var due int64
	for {
		select {
		case <-ctx.Done():
			return started, skipped
		case now := <-t.C:
			target := int64(math.Floor(now.Sub(start).Seconds() * rate))
			if limit > 0 {
				target = min(target, int64(limit))
			}
			for ; due < target; due++ {
				select {
				case jobs <- int(due):
					started++
				default:
					skipped++
				}
			}
			if limit > 0 && due >= int64(limit) {
				return started, skipped
			}
		}
	}
}

type e2eRun struct {
	c       *client
	wl      Workload
	noToken bool

	visible, store, read Recorder
	errs                 tally
	requests, stored     atomic.Int64
	misses               atomic.Int64
}

// op writes memory i and reads it back.
func (e *e2eRun) op(ctx context.Context, i int) {
	m := e.wl.Memory(i)
	body, _ := json.Marshal(itemOf(m))
	t0 := time.Now()
	resp, err := e.c.do(ctx, http.MethodPost, e.c.target.URL+routeStore, body, "")
	if !e.answered(ctx, routeStore, resp, err) {
		return
	}
	var ans struct {
		OK bool `json:"ok"`
	}
	token := resp.header.Get(consistency.Header)
	if json.Unmarshal(resp.body, &ans) != nil || !ans.OK || (token == "" && !e.noToken) {
		e.errs.add(routeStore, kindInvalid)
		return
	}
	e.stored.Add(1)
	t1 := time.Now()
	e.store.Record(t1.Sub(t0))
	if e.noToken {
		token = ""
	}
	resp, err = e.c.do(ctx, http.MethodGet, e.c.target.QueryURL+routeMemory+"?coord="+url.QueryEscape(m.Coord), nil, token)
	if err == nil && resp.status == http.StatusNotFound {
		e.requests.Add(1)
		e.misses.Add(1)
		return
	}
	if !e.answered(ctx, routeMemory, resp, err) {
		return
	}
	t2 := time.Now()
	var rec struct {
		Text string `json:"text"`
		Seq  *int   `json:"bench_seq"`
	}
	if err := json.Unmarshal(resp.body, &rec); err != nil {
		e.errs.add(routeMemory, kindInvalid)
		return
	}
	if rec.Text != m.Payload.Text || rec.Seq == nil || *rec.Seq != i {
		e.misses.Add(1)
		return
	}
	e.read.Record(t2.Sub(t1))
	e.visible.Record(t2.Sub(t0))
}

// answered counts a request and reports whether it got a 200; failures
// other than the end of the run are counted as errors.
func (e *e2eRun) answered(ctx context.Context, route string, resp response, err error) bool {
	if err != nil {
		if ctx.Err() == nil {
			e.requests.Add(1)
			e.errs.add(route, kindTransport)
		}
		return false
	}
	e.requests.Add(1)
	if resp.status != http.StatusOK {
		e.errs.status(route, resp.status)
		return false
	}
	return true
}
