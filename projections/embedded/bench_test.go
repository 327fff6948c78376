package embedded_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/vectorindex"
	"github.com/somafractalmemory/soma/projections/embedded"
)

// avroConfig stores event_log bodies as the service does: Avro with the
// registry-free ids of schemas.LocalSource.
func avroConfig(t testing.TB, dir string) embedded.Config {
	bodies, err := embedded.NewLocalBodies()
	if err != nil {
		t.Fatal(err)
	}
	return embedded.Config{Dir: dir, Encoder: bodies, Decoder: bodies}
}

func TestAvroBodiesRoundTrip(t *testing.T) {
	s := openStore(t, avroConfig(t, t.TempDir()))
	var g gen
	st := g.store(ns, c(1, 2), `{"text":"hello"}`, []float32{1, 2, 3, 4})
	imp := 3.0
	st.Importance, st.ImportanceNorm = &imp, 0.7
	evs := []domain.Event{st, g.link(ns, c(1, 2), c(3), "related", 2), g.setImportance(ns, c(1, 2), 4, 0.8), g.del(ns, c(1, 2))}
	mustAppend(t, s, evs...)
	envs, err := s.Events(ctxT(t), 0, 10)
	if err != nil || len(envs) != len(evs) {
		t.Fatalf("Events = %d, %v", len(envs), err)
	}
	for i, env := range envs {
		// Avro keeps microseconds; the test times are milliseconds.
		if !reflect.DeepEqual(normalizeEvent(env.Event), normalizeEvent(evs[i])) {
			t.Fatalf("event %d:\n got %+v\nwant %+v", i, env.Event, evs[i])
		}
	}
}

func normalizeEvent(e domain.Event) string {
	b, _ := json.Marshal(e)
	return e.EventName() + " " + string(b)
}

// bulk is one store_bulk of n new memories of dim dimensions.
func bulk(g *gen, rng *rand.Rand, b, n, dim int) []domain.Event {
	evs := make([]domain.Event, n)
	for i := range evs {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		st := g.store(ns, c(float64(b), float64(i)), fmt.Sprintf(`{"text":"memory %d of batch %d","timestamp":%d}`, i, b, 1700000000+i), v)
		st.EmbeddingModel = "bench/384"
		evs[i] = st
	}
	return evs
}

// BenchmarkAppendBulk is one direct-mode store_bulk of 1000 new memories
// of 384 dimensions (Avro bodies, one transaction, index update).
func BenchmarkAppendBulk(b *testing.B) {
	s := openStore(b, avroConfig(b, b.TempDir()))
	rng := rand.New(rand.NewPCG(1, 2))
	var g gen
	batches := make([][]domain.Event, 0, 64)
	for i := range cap(batches) {
		batches = append(batches, bulk(&g, rng, i, 1000, 384))
	}
	i := 0
	for b.Loop() {
		evs := batches[i%len(batches)]
		if i >= len(batches) { // later rounds replace earlier memories
			b.StopTimer()
			evs = bulk(&g, rng, i%len(batches), 1000, 384)
			b.StartTimer()
		}
		if _, err := s.Append(ctxT(b), evs); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/memory")
}

// BenchmarkOpen is the start-up of a store holding 100k memories of 384
// dimensions: opening the file and loading the vector index.
func BenchmarkOpen(b *testing.B) {
	const memories = 100_000
	dir := b.TempDir()
	cfg := avroConfig(b, dir)
	setup := time.Now()
	s, err := embedded.Open(ctxT(b), cfg)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var g gen
	for i := range memories / 1000 {
		if _, err := s.Append(ctxT(b), bulk(&g, rng, i, 1000, 384)); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d memories in %v", memories, time.Since(setup))
	var load time.Duration
	for b.Loop() {
		s, err := embedded.Open(ctxT(b), cfg)
		if err != nil {
			b.Fatal(err)
		}
		if n := s.IndexLen(); n != memories {
			b.Fatalf("index holds %d vectors, want %d", n, memories)
		}
		load += s.LoadTime()
		b.StopTimer()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(load.Seconds()*1000/float64(b.N), "ms-index-load/op")
}

// BenchmarkStoreSearch is a top-10 search through the store (index of
// 10k memories of 384 dimensions).
func BenchmarkStoreSearch(b *testing.B) {
	s := openStore(b, avroConfig(b, b.TempDir()))
	rng := rand.New(rand.NewPCG(5, 6))
	var g gen
	for i := range 10 {
		if _, err := s.Append(ctxT(b), bulk(&g, rng, i, 1000, 384)); err != nil {
			b.Fatal(err)
		}
	}
	q := vectorindex.Query{Namespace: ns, Model: "bench/384", TopK: 10, Vector: bulk(&g, rng, 0, 1, 384)[0].(domain.MemoryStored).Embedding}
	for b.Loop() {
		if res, err := s.Search(ctxT(b), q); err != nil || len(res) != 10 {
			b.Fatalf("Search = %d, %v", len(res), err)
		}
	}
}
