package bench

import (
	"sync"
	"testing"
	"time"
)

func msList(vals ...int) []time.Duration {
	out := make([]time.Duration, len(vals))
	for i, v := range vals {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	oneToHundred := make([]int, 100)
	for i := range oneToHundred {
		oneToHundred[i] = i + 1
	}
	oneToThousand := make([]int, 1000)
	for i := range oneToThousand {
		oneToThousand[i] = i + 1
	}
	tests := []struct {
		name    string
		samples []int
		p       float64
		want    int
	}{
		{"empty_is_zero", nil, 50, 0},
		{"single_sample_is_every_percentile", []int{7}, 99, 7},
		{"p50_of_two_is_the_lower", []int{1, 2}, 50, 1},
		{"p50_of_four_is_the_second", []int{1, 2, 3, 4}, 50, 2},
		{"p50_of_hundred_is_fiftieth", oneToHundred, 50, 50},
		{"p90_of_hundred_is_ninetieth", oneToHundred, 90, 90},
		{"p99_of_hundred_is_ninety_ninth_not_max", oneToHundred, 99, 99},
		{"p100_is_max", oneToHundred, 100, 100},
		{"p99_9_of_thousand_is_999th", oneToThousand, 99.9, 999},
		{"tiny_p_is_the_minimum", oneToHundred, 0.001, 1},
		{"p99_of_ten_is_max", []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Percentile(msList(tc.samples...), tc.p)
			if got != time.Duration(tc.want)*time.Millisecond {
				t.Fatalf("p%v = %v, want %dms", tc.p, got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	t.Run("sorts_and_reports_milliseconds", func(t *testing.T) {
		s := Summarize(msList(40, 10, 30, 20))
		want := Summary{Count: 4, Mean: 25, P50: 20, P90: 40, P99: 40, Max: 40}
		if s != want {
			t.Fatalf("got %+v, want %+v", s, want)
		}
	})
	t.Run("rounds_to_the_microsecond", func(t *testing.T) {
		s := Summarize([]time.Duration{1234567 * time.Nanosecond})
		if s.P50 != 1.235 || s.Max != 1.235 {
			t.Fatalf("got %+v", s)
		}
	})
	t.Run("empty_is_zero", func(t *testing.T) {
		if s := Summarize(nil); s != (Summary{}) {
			t.Fatalf("got %+v", s)
		}
	})
}

func TestRecorder(t *testing.T) {
	t.Run("keeps_every_sample_from_concurrent_writers", func(t *testing.T) {
		var r Recorder
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 1000 {
					r.Record(time.Duration(g*1000+i) * time.Microsecond)
				}
			})
		}
		wg.Wait()
		s := r.Summary()
		if s.Count != 8000 || s.Max != 7.999 || s.Dropped != 0 {
			t.Fatalf("got %+v", s)
		}
	})
	t.Run("counts_samples_beyond_the_bound_as_dropped", func(t *testing.T) {
		r := Recorder{samples: make([]time.Duration, MaxSamples)}
		r.Record(time.Second)
		if s := r.Summary(); s.Count != MaxSamples || s.Dropped != 1 {
			t.Fatalf("count %d dropped %d", s.Count, s.Dropped)
		}
	})
}
