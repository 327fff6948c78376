package vectorindex

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// BenchmarkSearch is one top-10 search over one namespace of n memories of
// 384 dimensions, without and with a payload filter (per-op time is the
// mean latency of one search; p50-ms and p99-ms its percentiles).
func BenchmarkSearch(b *testing.B) {
	const dim = 384
	for _, n := range []int{10_000, 100_000} {
		rng := rand.New(rand.NewPCG(uint64(n), 1))
		f := newFlat(b, dim)
		f.Reserve("ns", n)
		batch := make([]Entry, 0, 1000)
		for i := range n {
			batch = append(batch, Entry{
				ID:             ID{Namespace: "ns", Key: fmt.Sprint(i)},
				Type:           []string{"episodic", "semantic"}[i%2],
				ImportanceNorm: 0.5,
				Fields:         Fields{{Name: "tag", Value: Value{Kind: KindNumber, Num: float64(i % 10)}}},
				Vector:         randVec(rng, dim),
			})
			if len(batch) == cap(batch) {
				must(b, f.Upsert(batch...))
				batch = batch[:0]
			}
		}
		must(b, f.Upsert(batch...))
		queries := make([][]float32, 64)
		for i := range queries {
			queries[i] = randVec(rng, dim)
		}
		for _, tc := range []struct {
			name    string
			filters map[string]any
		}{{"all", nil}, {"filter_tenth", map[string]any{"tag": 3}}} {
			b.Run(fmt.Sprintf("n=%d/%s", n, tc.name), func(b *testing.B) {
				ctx := context.Background()
				i := 0
				lat := make([]time.Duration, 0, b.N)
				for b.Loop() {
					start := time.Now()
					res, err := f.Search(ctx, Query{Namespace: "ns", Model: testModel, Vector: queries[i%len(queries)], TopK: 10, Filters: tc.filters})
					lat = append(lat, time.Since(start))
					if err != nil || len(res) != 10 {
						b.Fatalf("Search = %d results, %v", len(res), err)
					}
					i++
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			})
		}
	}
}
