package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Why a run stopped.
const (
	StopCompleted   = "completed"   // every planned request was sent
	StopDuration    = "duration"    // the duration bound was reached first
	StopInterrupted = "interrupted" // the caller's context ended
	StopFailed      = "failed"      // a preparation step failed (see the error)
)

// Result is what a run reports. Its JSON form is the machine-readable
// output of `soma bench --json`; field names are part of that contract.
type Result struct {
	Command string `json:"command"`
	// Config is the effective configuration (the token never appears).
	Config  map[string]any `json:"config"`
	Machine Machine        `json:"machine"`
	// Stop says why the run ended: StopCompleted, StopDuration,
	// StopInterrupted or StopFailed.
	Stop       string     `json:"stop"`
	Throughput Throughput `json:"throughput"`
	// Latency of the measured operation in milliseconds: one request for
	// ingest and recall, write→visible for e2e, the whole command for
	// replay.
	Latency Summary `json:"latency"`
	// Phases are further distributions (e2e: "store", "read"; recall:
	// "load" per bulk request).
	Phases map[string]Summary `json:"phases,omitempty"`
	// Errors counts failed requests by "<route> <status>", where status is
	// an HTTP status code, "transport" (no answer) or "invalid" (a 200
	// that breaks the contract).
	Errors map[string]int64 `json:"errors"`
	// Misses counts reads that did not see what the run wrote (e2e), or
	// recalls that came back empty from a loaded namespace.
	Misses int64 `json:"misses"`
	// Notes explain anomalies (e.g. the server's rate limit).
	Notes []string `json:"notes,omitempty"`
}

// Machine describes where the harness ran.
type Machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
}

// ThisMachine describes the running process's machine.
func ThisMachine() Machine {
	return Machine{
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
	}
}

// Throughput of a run. Rates are per second of the measured phase.
type Throughput struct {
	ElapsedSeconds    float64 `json:"elapsed_seconds"`
	Requests          int64   `json:"requests"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	// Memories stored (ingest; e2e) and their rate.
	Memories          int64   `json:"memories,omitempty"`
	MemoriesPerSecond float64 `json:"memories_per_second,omitempty"`
	// TargetRate is e2e's --rate; Skipped counts ticks that found every
	// worker busy (the target rate was not sustained).
	TargetRate float64 `json:"target_rate,omitempty"`
	Skipped    int64   `json:"skipped,omitempty"`
}

func perSecond(n int64, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return round2(float64(n) / elapsed.Seconds())
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// WriteJSON writes r as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes r as a two-column table (measure, value).
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	row("measure", "value")
	row("command", r.Command)
	for _, k := range sortedKeys(r.Config) {
		row("config."+k, r.Config[k])
	}
	row("machine", fmt.Sprintf("%d cpus, GOMAXPROCS %d, %s %s/%s", r.Machine.CPUs, r.Machine.GOMAXPROCS, r.Machine.GoVersion, r.Machine.OS, r.Machine.Arch))
	row("stop", r.Stop)
	t := r.Throughput
	row("elapsed_s", fmtFloat(t.ElapsedSeconds))
	row("requests", t.Requests)
	row("requests/s", fmtFloat(t.RequestsPerSecond))
	if t.Memories > 0 || t.MemoriesPerSecond > 0 {
		row("memories", t.Memories)
		row("memories/s", fmtFloat(t.MemoriesPerSecond))
	}
	if t.TargetRate > 0 {
		row("target_rate/s", fmtFloat(t.TargetRate))
		row("skipped_ticks", t.Skipped)
	}
	summaryRows(row, "latency", r.Latency)
	for _, k := range sortedKeys(r.Phases) {
		summaryRows(row, k, r.Phases[k])
	}
	var failed int64
	for _, k := range sortedKeys(r.Errors) {
		row("errors["+k+"]", r.Errors[k])
		failed += r.Errors[k]
	}
	if failed == 0 {
		row("errors", 0)
	}
	row("misses", r.Misses)
	for _, n := range r.Notes {
		row("note", n)
	}
	return tw.Flush()
}

func summaryRows(row func(string, any), name string, s Summary) {
	row(name+".count", s.Count)
	for _, p := range []struct {
		k string
		v float64
	}{{"mean", s.Mean}, {"p50", s.P50}, {"p90", s.P90}, {"p99", s.P99}, {"max", s.Max}} {
		row(name+"."+p.k+"_ms", fmtFloat(p.v))
	}
	if s.Dropped > 0 {
		row(name+".dropped_samples", s.Dropped)
	}
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// newResult fills the parts every run shares.
func newResult(command string, config map[string]any) *Result {
	return &Result{Command: command, Config: config, Machine: ThisMachine(), Errors: map[string]int64{}}
}

// finish computes rates and notes from the counters of a run.
func (r *Result) finish(elapsed time.Duration, requests int64, errs *tally) {
	r.Throughput.ElapsedSeconds = round2(elapsed.Seconds())
	r.Throughput.Requests = requests
	r.Throughput.RequestsPerSecond = perSecond(requests, elapsed)
	if r.Throughput.Memories > 0 {
		r.Throughput.MemoriesPerSecond = perSecond(r.Throughput.Memories, elapsed)
	}
	r.Errors = errs.snapshot()
	var limited, unanswered int64
	for k, v := range r.Errors {
		switch {
		case strings.HasSuffix(k, " 429"):
			limited += v
		case strings.HasSuffix(k, " "+kindTransport):
			unanswered += v
		}
	}
	if limited > 0 {
		r.Notes = append(r.Notes, "the server rate-limited requests (429): run it with SOMA_RATE_LIMIT_MAX=0 to benchmark")
	}
	if unanswered > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d requests got no answer (connection refused or reset, or --timeout): is the server running at the URL?", unanswered))
	}
}
