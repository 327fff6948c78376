package postgres_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/projections"
	"github.com/somafractalmemory/soma/projections/postgres"
)

// binaryEncoder stands in for the Avro encoder in the benchmark: a compact
// binary body of about the same size (the embedding as 4-byte floats plus
// the payload), so that the benchmark measures the projection rather than
// JSON float formatting.
type binaryEncoder struct{}

func (binaryEncoder) EncodeBody(e domain.Event) ([]byte, error) {
	meta := e.Metadata()
	out := make([]byte, 0, 2048)
	out = append(out, meta.EventID...)
	out = append(out, meta.Namespace...)
	if s, ok := e.(domain.MemoryStored); ok {
		out = append(out, s.Payload...)
		for _, f := range s.Embedding {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(f))
		}
	}
	return out, nil
}

const (
	benchBatch = 500
	benchDim   = 384
)

// BenchmarkApply applies batches of 500 MemoryStored events (384-float
// embeddings, ~200-byte payloads) and reports events/s.
//
//	new_memories: every event stores a new coordinate.
//	replacing_memories: every event replaces an existing memory.
func BenchmarkApply(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	emb := make([]float32, benchDim)
	for i := range emb {
		emb[i] = rng.Float32()
	}
	filler := strings.Repeat("lorem ipsum ", 12)
	store := func(i int, at time.Time) domain.MemoryStored {
		imp := float64(i % 10)
		return domain.MemoryStored{
			EventMeta:      domain.EventMeta{EventID: uuid.NewString(), Namespace: "bench", OccurredAt: at, Actor: "bench"},
			Coordinate:     domain.MustCoordinate(float64(i%1000), float64(i/1000), 0.5),
			Payload:        json.RawMessage(fmt.Sprintf(`{"text":"memory %d %s","source":"benchmark","importance":%g}`, i, filler, imp)),
			Type:           domain.Episodic,
			Importance:     &imp,
			ImportanceNorm: imp / 10,
			Embedding:      emb,
			EmbeddingModel: "hash-v1/384",
		}
	}
	for _, mode := range []string{"new_memories", "replacing_memories"} {
		b.Run(mode, func(b *testing.B) {
			pool := testPool(b)
			p := postgres.New(pool, postgres.Config{Schema: freshSchema(b, pool), Encoder: binaryEncoder{}})
			ctx := b.Context()
			var offset int64
			next := 0
			batch := func() []projections.Envelope {
				out := make([]projections.Envelope, benchBatch)
				at := time.Now().UTC()
				for j := range out {
					i := next
					if mode == "replacing_memories" {
						i = next % benchBatch
					}
					next++
					out[j] = projections.Envelope{Event: store(i, at), Source: topic, Partition: 0, Offset: offset}
					offset++
				}
				return out
			}
			if mode == "replacing_memories" {
				if err := p.Apply(ctx, batch()); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			var applied int
			for b.Loop() {
				b.StopTimer()
				env := batch()
				b.StartTimer()
				if err := p.Apply(ctx, env); err != nil {
					b.Fatal(err)
				}
				applied += benchBatch
			}
			b.ReportMetric(float64(applied)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
