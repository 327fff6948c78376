package redis_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/projections"
	"github.com/somafractalmemory/soma/projections/redis"
)

// benchBatch is the size of one Apply call in the benchmark.
const benchBatch = 500

// storedBatch is benchBatch MemoryStored events of new memories (starting
// at memory number first) with payloads of about 200 bytes, on partition
// 0 from offset first on.
func storedBatch(g *gen, first int) []projections.Envelope {
	text := strings.Repeat("memory text ", 11)
	out := make([]projections.Envelope, benchBatch)
	for i := range out {
		n := first + i
		typ := domain.Episodic
		if n%4 == 0 {
			typ = domain.Semantic
		}
		payload := fmt.Sprintf(`{"text":%q,"tags":["bench","redis"],"n":%d,"timestamp":1714564800.25}`, text, n)
		e := g.store("bench", coord(float64(n), 1), typ, payload)
		e.Payload = json.RawMessage(payload)
		imp := float64(n % 10)
		e.Importance, e.ImportanceNorm = &imp, imp/10
		out[i] = projections.Envelope{Event: e, Source: "memory.events", Partition: 0, Offset: int64(n)}
	}
	return out
}

// BenchmarkApply applies batches of 500 MemoryStored events (new
// memories, ~200-byte payloads) and reports events per second. The
// sub-benchmarks vary the number of events per script call: chunk_1 is one
// EVALSHA per event (pipelined in one MULTI/EXEC), chunk_500 one per
// batch.
func BenchmarkApply(b *testing.B) {
	for _, chunk := range []int{1, 100, 500} {
		b.Run(fmt.Sprintf("chunk_%d", chunk), func(b *testing.B) {
			p, _ := newProjection(b, redis.Config{ChunkEvents: chunk})
			ctx := testCtx(b)
			g := &gen{}
			if len(storedBatch(g, 0)[0].Event.(domain.MemoryStored).Payload) < 180 {
				b.Fatal("payload shorter than intended")
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				batch := storedBatch(g, i*benchBatch)
				b.StartTimer()
				if err := p.Apply(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
			if total, _, _, err := p.Counts(ctx, "bench"); err != nil || total != int64(b.N*benchBatch) {
				b.Fatalf("total = %d, %v; want %d", total, err, b.N*benchBatch)
			}
		})
	}
}
