package domain

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// Expected values below were computed with an independent reference
// implementation of the documented rule (numpy.quantile, linear method).

func seqRange(lo, hi int) []float64 {
	out := make([]float64, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, float64(i))
	}
	return out
}

func concat(parts ...[]float64) []float64 {
	var out []float64
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func feed(seq []float64) (*ImportanceNormalizer, []float64) {
	n := NewImportanceNormalizer()
	out := make([]float64, len(seq))
	for i, raw := range seq {
		out[i] = n.Observe(raw)
	}
	return n, out
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12 }

func TestValidateImportance(t *testing.T) {
	for _, raw := range []float64{0, -3, 1e300, 0.5} {
		if err := ValidateImportance(raw); err != nil {
			t.Errorf("ValidateImportance(%v) = %v", raw, err)
		}
	}
	for _, raw := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if err := ValidateImportance(raw); !errors.Is(err, ErrInvalidImportance) {
			t.Errorf("ValidateImportance(%v) = %v, want ErrInvalidImportance", raw, err)
		}
	}
}

func TestImportanceNormalizerWarmup(t *testing.T) {
	tests := []struct {
		name string
		seq  []float64
		want []float64
	}{
		{"single_sample_is_half", []float64{5}, []float64{0.5}},
		{"equal_samples_are_half", []float64{3, 3, 3}, []float64{0.5, 0.5, 0.5}},
		{"min_max_over_all_seen", []float64{5, 10, 7.5, 0, 20, 10}, []float64{0.5, 1, 0.5, 0, 1, 0.5}},
		{"negative_raw_values", []float64{-4, 4, 0, -2}, []float64{0.5, 1, 0.5, 0.25}},
		{"zero_is_a_value", []float64{0, 0, 1}, []float64{0.5, 0.5, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := feed(tt.seq)
			for i := range got {
				if !near(got[i], tt.want[i]) {
					t.Fatalf("sample %d (%v): got %v, want %v (all: %v)", i+1, tt.seq[i], got[i], tt.want[i], got)
				}
			}
		})
	}
	t.Run("sample_63_is_still_warmup", func(t *testing.T) {
		// 0..61 then 30.5: min–max over all seen gives 0.5; no quantile
		// rule is used before sample 64.
		_, got := feed(append(seqRange(0, 62), 30.5))
		if !near(got[62], 0.5) {
			t.Fatalf("got %v, want 0.5", got[62])
		}
	})
}

func TestImportanceNormalizerBranches(t *testing.T) {
	tests := []struct {
		name       string
		seq        []float64 // 64 samples: the first snapshot is taken at the last one
		wantBranch string
		wantQ      [4]float64 // q10, q50, q90, q99
		probe      float64    // the 65th sample
		want       float64
	}{
		{
			name: "mild_tails_min_max_over_reservoir", seq: seqRange(1, 65),
			wantBranch: "mild", wantQ: [4]float64{7.3, 32.5, 57.7, 63.37},
			probe: 32.5, want: 0.5,
		},
		{
			name: "mild_tails_clamp_above_snapshot_max", seq: seqRange(1, 65),
			wantBranch: "mild", wantQ: [4]float64{7.3, 32.5, 57.7, 63.37},
			probe: 100, want: 1,
		},
		{
			name: "mild_tails_clamp_below_snapshot_min", seq: seqRange(1, 65),
			wantBranch: "mild", wantQ: [4]float64{7.3, 32.5, 57.7, 63.37},
			probe: -5, want: 0,
		},
		{
			name: "moderate_tails_winsorised", seq: concat(seqRange(0, 57), []float64{60, 80, 100, 120, 140, 150, 170}),
			wantBranch: "moderate", wantQ: [4]float64{6.3, 31.5, 58.8, 157.4},
			probe: 30, want: 0.15684976836532105,
		},
		{
			name: "moderate_tails_clip_at_q10", seq: concat(seqRange(0, 57), []float64{60, 80, 100, 120, 140, 150, 170}),
			wantBranch: "moderate", wantQ: [4]float64{6.3, 31.5, 58.8, 157.4},
			probe: 3, want: 0,
		},
		{
			name: "moderate_tails_clip_at_q99", seq: concat(seqRange(0, 57), []float64{60, 80, 100, 120, 140, 150, 170}),
			wantBranch: "moderate", wantQ: [4]float64{6.3, 31.5, 58.8, 157.4},
			probe: 165, want: 1,
		},
		{
			name: "extreme_tails_logistic", seq: append(seqRange(0, 63), 10000),
			wantBranch: "extreme", wantQ: [4]float64{6.3, 31.5, 56.7, 3739.06},
			probe: 31, want: 0.48910279443434296,
		},
		{
			name: "extreme_tails_logistic_low", seq: append(seqRange(0, 63), 10000),
			wantBranch: "extreme", wantQ: [4]float64{6.3, 31.5, 56.7, 3739.06},
			probe: 0, want: 0.060282881273222705,
		},
		{
			name: "quantile_zero_median_centres_logistic", seq: concat(seqRange(-31, 0), []float64{0, 0}, seqRange(1, 31), []float64{10000}),
			wantBranch: "extreme", wantQ: [4]float64{-24.7, 0, 24.7, 3718.9},
			probe: 0, want: 0.5,
		},
		{
			name: "logistic_maps_q90_to_point_nine", seq: concat(seqRange(-31, 0), []float64{0, 0}, seqRange(1, 31), []float64{10000}),
			wantBranch: "extreme", wantQ: [4]float64{-24.7, 0, 24.7, 3718.9},
			probe: 24.7, want: 0.9,
		},
		{
			name: "logistic_maps_q10_to_point_one", seq: concat(seqRange(-31, 0), []float64{0, 0}, seqRange(1, 31), []float64{10000}),
			wantBranch: "extreme", wantQ: [4]float64{-24.7, 0, 24.7, 3718.9},
			probe: -24.7, want: 0.1,
		},
		{
			name: "quantile_zero_q10_is_winsor_floor", seq: concat(make([]float64, 8), seqRange(1, 50), []float64{60, 80, 100, 120, 140, 150, 170}),
			wantBranch: "moderate", wantQ: [4]float64{0, 24.5, 56.7, 157.4},
			probe: 50, want: 0.3176620076238883,
		},
		{
			name: "flat_spread_falls_back_to_reservoir_min_max", seq: append(make([]float64, 63), 8),
			wantBranch: "flat", wantQ: [4]float64{0, 0, 0, 2.96},
			probe: 2, want: 0.25,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.seq) != 64 {
				t.Fatalf("bad table: %d samples", len(tt.seq))
			}
			n, _ := feed(tt.seq)
			s := n.snap
			gotQ := [4]float64{s.q10, s.q50, s.q90, s.q99}
			for i := range gotQ {
				if math.Abs(gotQ[i]-tt.wantQ[i]) > 1e-9 {
					t.Fatalf("quantiles %v, want %v", gotQ, tt.wantQ)
				}
			}
			if b := branchOf(s); b != tt.wantBranch {
				t.Fatalf("branch %s, want %s", b, tt.wantBranch)
			}
			if got := n.Observe(tt.probe); !near(got, tt.want) {
				t.Fatalf("Observe(%v) = %v, want %v", tt.probe, got, tt.want)
			}
		})
	}
}

func branchOf(s importanceSnapshot) string {
	spread, tail := s.q90-s.q10, s.q99-s.q90
	switch {
	case !(spread > 0):
		return "flat"
	case tail <= spread:
		return "mild"
	case tail <= 3*spread:
		return "moderate"
	}
	return "extreme"
}

func TestImportanceNormalizerRecomputation(t *testing.T) {
	low := make([]float64, 512) // i/512: uniform on [0,1)
	high := make([]float64, 512)
	for i := range low {
		low[i] = float64(i) / 512
		high[i] = 100 + float64(i)/512
	}

	t.Run("snapshot_at_512_covers_first_fill", func(t *testing.T) {
		n, _ := feed(low)
		if got := n.Observe(50); got != 1 {
			t.Fatalf("Observe(50) = %v, want 1", got)
		}
	})
	t.Run("snapshot_held_between_recomputations", func(t *testing.T) {
		n, _ := feed(concat(low, high[:62]))
		if got := n.Observe(50); got != 1 { // sample 575: still the n=512 snapshot
			t.Fatalf("Observe(50) = %v, want 1", got)
		}
	})
	t.Run("recomputes_after_reservoir_is_full", func(t *testing.T) {
		n, _ := feed(concat(low, high[:63]))
		// Sample 576 triggers a recomputation over the full reservoir.
		if got, want := n.Observe(50), 0.49940500575486235; !near(got, want) {
			t.Fatalf("Observe(50) = %v, want %v", got, want)
		}
	})
	t.Run("reservoir_follows_algorithm_r", func(t *testing.T) {
		n, _ := feed(concat(low, high))
		if len(n.reservoir) != ImportanceReservoirSize {
			t.Fatalf("reservoir holds %d samples", len(n.reservoir))
		}
		replaced := 0
		for _, r := range n.reservoir {
			if r >= 100 {
				replaced++
			}
		}
		if replaced != 250 {
			t.Fatalf("%d reservoir slots hold late samples, want 250", replaced)
		}
		s := n.snap
		want := importanceSnapshot{lo: 0, hi: 100.994140625, q10: 0.2150390625, q50: 0.962890625, q90: 100.780859375, q99: 100.97765625}
		if !near(s.lo, want.lo) || !near(s.hi, want.hi) || !near(s.q10, want.q10) || !near(s.q50, want.q50) || !near(s.q90, want.q90) || !near(s.q99, want.q99) {
			t.Fatalf("snapshot %+v, want %+v", s, want)
		}
		for raw, want := range map[float64]float64{50: 0.4950782262275426, 0.5: 0.004950782262275426, 100.5: 0.9951072347173606} {
			m, _ := feed(concat(low, high))
			if got := m.Observe(raw); !near(got, want) {
				t.Errorf("Observe(%v) = %v, want %v", raw, got, want)
			}
		}
		if n.Count() != 1024 {
			t.Fatalf("Count() = %d", n.Count())
		}
	})
}

func TestImportanceNormalizerDeterminism(t *testing.T) {
	t.Run("same_sequence_same_results", func(t *testing.T) {
		seq := make([]float64, 3000)
		x := uint64(42)
		for i := range seq {
			x = x*6364136223846793005 + 1442695040888963407
			seq[i] = float64(x>>40) / (1 << 24) * float64(1+i%7) // skewed mix
		}
		a, outA := feed(seq)
		b, outB := feed(seq)
		for i := range outA {
			if outA[i] != outB[i] {
				t.Fatalf("sample %d: %v vs %v", i, outA[i], outB[i])
			}
		}
		if a.snap != b.snap {
			t.Fatalf("snapshots differ: %+v vs %+v", a.snap, b.snap)
		}
	})
	t.Run("non_finite_raw_is_ignored", func(t *testing.T) {
		n := NewImportanceNormalizer()
		for _, raw := range []float64{math.NaN(), math.Inf(1)} {
			if got := n.Observe(raw); got != NeutralImportance {
				t.Fatalf("Observe(%v) = %v", raw, got)
			}
		}
		if n.Count() != 0 {
			t.Fatalf("Count() = %d, want 0", n.Count())
		}
	})
}

func FuzzImportanceNormalizer(f *testing.F) {
	f.Add([]byte{})
	f.Add(binary.LittleEndian.AppendUint64(nil, math.Float64bits(1e308)))
	f.Add(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, math.Float64bits(-1.7976931348623157e308)), math.Float64bits(1.7976931348623157e308)))
	f.Add([]byte("0123456789abcdef0123456789abcdef"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := NewImportanceNormalizer()
		// Each 8 bytes are one sample; short inputs are cycled so the
		// quantile branches are reached.
		if len(data) < 8 {
			return
		}
		k := len(data) / 8
		for i := range max(k, 200) {
			raw := math.Float64frombits(binary.LittleEndian.Uint64(data[(i%k)*8:]))
			if ValidateImportance(raw) != nil {
				continue
			}
			if got := n.Observe(raw); !(got >= 0 && got <= 1) {
				t.Fatalf("sample %d: Observe(%v) = %v", i, raw, got)
			}
		}
	})
}
