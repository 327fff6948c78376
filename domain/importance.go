package domain

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
)

// NeutralImportance is the importance_norm of a memory stored without a raw
// importance. Such memories do not feed the normaliser. Because recall
// scores are cosine × importance_norm, every unweighted memory is scaled
// by the same factor and recall still ranks them by similarity (the
// original gave them 0, so recall ignored the query).
const NeutralImportance = 0.5

// Parameters of the importance normaliser. Changing any of them changes the
// importance_norm of future writes (events already written keep theirs).
const (
	// ImportanceWarmup is the number of samples normalised by plain min–max
	// over everything seen; quantiles take over at the next sample.
	ImportanceWarmup = 63
	// ImportanceReservoirSize is the capacity of the sample reservoir.
	ImportanceReservoirSize = 512
	// ImportanceRecomputeEvery is the quantile refresh period in samples.
	ImportanceRecomputeEvery = 64
)

// importanceSeed seeds the reservoir PRNG. Fixed so that replaying the same
// sequence of raw importances reproduces the same normalised values.
const importanceSeed uint64 = 0x50AF_7A1C_4D3E_9B21

// ErrInvalidImportance is wrapped by errors about a raw importance.
var ErrInvalidImportance = errors.New("invalid importance")

// ValidateImportance accepts any finite raw importance (negative values
// included) and rejects NaN and ±Inf with an error wrapping
// ErrInvalidImportance.
func ValidateImportance(raw float64) error {
	if math.IsNaN(raw) || math.IsInf(raw, 0) {
		return fmt.Errorf("%w: %v is not finite", ErrInvalidImportance, raw)
	}
	return nil
}

// ImportanceNormalizer maps raw importances of one namespace to
// importance_norm in [0,1], adapting to the distribution seen so far.
//
// The exact rule, for the n-th sample raw (n counted from 1, including raw):
//
//   - State: n, the minimum and maximum of all samples, and a reservoir of
//     at most 512 samples kept by Algorithm R: the first 512 samples fill
//     it; afterwards sample n replaces slot j when j < 512, where
//     j = splitmix64() mod n from a PRNG with a fixed seed held in the
//     state.
//   - Warm-up (n ≤ 63): (raw−min)/(max−min) over all samples seen, or 0.5
//     when max == min.
//   - From n = 64 on, the reservoir's quantiles q10, q50, q90, q99 (linear
//     interpolation between closest ranks, numpy's default) and its min and
//     max are snapshotted when n is a multiple of 64 (64, 128, … forever,
//     also after the reservoir is full), after raw was added. Between
//     snapshots the last one is used. A quantile of 0 is an ordinary value.
//   - spread = q90−q10, tail = q99−q90:
//     spread ≤ 0: min–max over the snapshot's min..max (0.5 when equal);
//     tail ≤ spread (mild tails): min–max over the snapshot's min..max;
//     tail ≤ 3·spread (moderate tails): winsorised min–max, raw clipped to
//     [q10, q99], then (raw−q10)/(q99−q10);
//     otherwise (extreme tails): logistic around q50,
//     1/(1+exp(−(raw−q50)/s)) with s = spread/(2·ln 9), so that q50±spread/2
//     map to 0.1 and 0.9.
//   - The result is clamped to [0,1] and is never NaN.
//
// The output depends only on the sequence of samples, so a normaliser
// rebuilt by replaying a namespace's raw importances in log order gives the
// same values. The methods are safe for concurrent use, but determinism
// needs the caller to feed samples in a defined order (one normaliser per
// namespace, fed by that namespace's single writer).
type ImportanceNormalizer struct {
	mu        sync.Mutex
	n         int64
	min, max  float64
	reservoir []float64
	rng       uint64
	snap      importanceSnapshot
}

// importanceSnapshot is the reservoir summary used between recomputations.
type importanceSnapshot struct {
	lo, hi             float64 // reservoir min and max
	q10, q50, q90, q99 float64
}

// NewImportanceNormalizer returns an empty normaliser.
func NewImportanceNormalizer() *ImportanceNormalizer {
	return &ImportanceNormalizer{
		reservoir: make([]float64, 0, ImportanceReservoirSize),
		rng:       importanceSeed,
	}
}

// Count returns how many samples have been observed.
func (n *ImportanceNormalizer) Count() int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.n
}

// Observe records raw and returns its importance_norm in [0,1] under the
// rule documented on ImportanceNormalizer. raw must be finite (see
// ValidateImportance); a non-finite raw is ignored and yields
// NeutralImportance so the state is never poisoned.
func (n *ImportanceNormalizer) Observe(raw float64) float64 {
	if ValidateImportance(raw) != nil {
		return NeutralImportance
	}
	n.mu.Lock()
	defer n.mu.Unlock()

	n.n++
	if n.n == 1 {
		n.min, n.max = raw, raw
	} else {
		n.min, n.max = min(n.min, raw), max(n.max, raw)
	}
	if len(n.reservoir) < ImportanceReservoirSize {
		n.reservoir = append(n.reservoir, raw)
	} else if j := n.next() % uint64(n.n); j < ImportanceReservoirSize { // #nosec G115 -- n.n ≥ 1 here (incremented above)
		n.reservoir[j] = raw
	}

	if n.n <= ImportanceWarmup {
		return minMax(raw, n.min, n.max)
	}
	if n.n%ImportanceRecomputeEvery == 0 {
		n.snap = summarize(n.reservoir)
	}
	return n.snap.normalize(raw)
}

// next is splitmix64.
func (n *ImportanceNormalizer) next() uint64 {
	n.rng += 0x9E3779B97F4A7C15
	z := n.rng
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func summarize(samples []float64) importanceSnapshot {
	s := slices.Clone(samples)
	slices.Sort(s)
	return importanceSnapshot{
		lo:  s[0],
		hi:  s[len(s)-1],
		q10: quantile(s, 0.10),
		q50: quantile(s, 0.50),
		q90: quantile(s, 0.90),
		q99: quantile(s, 0.99),
	}
}

func (s importanceSnapshot) normalize(raw float64) float64 {
	spread := s.q90 - s.q10
	tail := s.q99 - s.q90
	switch {
	case !(spread > 0), tail <= spread:
		return minMax(raw, s.lo, s.hi)
	case tail <= 3*spread:
		return minMax(min(max(raw, s.q10), s.q99), s.q10, s.q99)
	default:
		scale := spread / (2 * math.Log(9))
		return clamp01(1 / (1 + math.Exp(-(raw-s.q50)/scale)))
	}
}

// quantile returns the p-quantile of sorted (non-empty) by linear
// interpolation between closest ranks (numpy's "linear" method).
func quantile(sorted []float64, p float64) float64 {
	h := float64(len(sorted)-1) * p
	i := int(math.Floor(h))
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	lo, hi, t := sorted[i], sorted[i+1], h-float64(i)
	if t == 0 {
		return lo
	}
	if v := lo + t*(hi-lo); !math.IsInf(v, 0) {
		return v
	}
	return lo*(1-t) + hi*t // hi−lo overflowed
}

// minMax maps raw from [lo, hi] to [0,1], clamped; 0.5 when hi ≤ lo. It
// stays finite when hi−lo overflows.
func minMax(raw, lo, hi float64) float64 {
	if !(hi > lo) {
		return 0.5
	}
	v := (raw - lo) / (hi - lo)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = (raw/2 - lo/2) / (hi/2 - lo/2)
	}
	return clamp01(v)
}

// clamp01 clamps v to [0,1], mapping NaN to 0.5.
func clamp01(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return 0.5
	case v < 0:
		return 0
	case v > 1:
		return 1
	}
	return v
}
