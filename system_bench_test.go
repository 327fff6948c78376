package soma_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/somafractalmemory/soma"
)

// BenchmarkSystemStore: one Store through the in-process System on the
// embedded store (validation, embedding, event log, read models).
func BenchmarkSystemStore(b *testing.B) {
	ctx := context.Background()
	s, err := soma.Open(ctx, soma.Config{Mode: soma.ModeTest, Settings: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := s.Store(ctx, soma.StoreRequest{Coordinate: soma.Coordinate{float64(i)}, Payload: map[string]any{"text": fmt.Sprintf("memory number %d about topic %d", i, i%97)}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSystemRecall: top-5 recall over 10,000 memories in process.
func BenchmarkSystemRecall(b *testing.B) {
	ctx := context.Background()
	s, err := soma.Open(ctx, soma.Config{Mode: soma.ModeTest, Settings: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n, batch = 10_000, 1000
	for start := 0; start < n; start += batch {
		items := make([]soma.StoreRequest, batch)
		for j := range items {
			i := start + j
			items[j] = soma.StoreRequest{Coordinate: soma.Coordinate{float64(i)}, Payload: map[string]any{"text": fmt.Sprintf("memory number %d about topic %d", i, i%97)}}
		}
		if _, err := s.StoreBulk(ctx, items); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := s.Recall(ctx, soma.RecallRequest{Query: fmt.Sprintf("topic %d", i%97), TopK: 5}); err != nil {
			b.Fatal(err)
		}
	}
}
