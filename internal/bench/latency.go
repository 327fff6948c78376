package bench

import (
	"math"
	"slices"
	"sync"
	"time"
)

// MaxSamples bounds how many latencies one Recorder keeps (8 MB of
// durations). Runs are bounded well below it; beyond it samples are
// counted but dropped, and Summary says so.
const MaxSamples = 1 << 20

// Recorder keeps every latency sample. It is safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	samples []time.Duration
	dropped int64
}

// Record adds one sample.
func (r *Recorder) Record(d time.Duration) {
	r.mu.Lock()
	if len(r.samples) < MaxSamples {
		r.samples = append(r.samples, d)
	} else {
		r.dropped++
	}
	r.mu.Unlock()
}

// Summary sorts a copy of the samples and summarises them.
func (r *Recorder) Summary() Summary {
	r.mu.Lock()
	s := slices.Clone(r.samples)
	dropped := r.dropped
	r.mu.Unlock()
	out := Summarize(s)
	out.Dropped = dropped
	return out
}

// Summary is a latency distribution in milliseconds.
type Summary struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
	// Dropped counts samples beyond MaxSamples (not in the percentiles).
	Dropped int64 `json:"dropped,omitempty"`
}

// Summarize sorts samples in place and returns their distribution. An
// empty slice gives the zero Summary.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, d := range samples {
		sum += d
	}
	return Summary{
		Count: len(samples),
		Mean:  ms(sum / time.Duration(len(samples))),
		P50:   ms(Percentile(samples, 50)),
		P90:   ms(Percentile(samples, 90)),
		P99:   ms(Percentile(samples, 99)),
		Max:   ms(samples[len(samples)-1]),
	}
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted samples
// by the nearest-rank method: the smallest sample such that at least p%
// of the samples are ≤ it. It is always one of the samples; it returns 0
// for no samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// The epsilon keeps float error (99.9×1000/100 = 99900.00000000001)
	// from moving the rank up by one.
	rank := int(math.Ceil(p*float64(n)/100 - 1e-9))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// ms converts to milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}
