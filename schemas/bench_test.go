package schemas

import (
	"encoding/json"
	"testing"

	"github.com/somafractalmemory/soma/domain"
)

func BenchmarkEncodeDecode(b *testing.B) {
	codec, _ := registeredCodec(b, testRegistryURL(b), uniqueTopic(), builtinCatalog(b))
	e := domain.MemoryStored{
		EventMeta:      meta("3f2b8c1e-9d4a-4c5b-8e7f-0a1b2c3d4e5f"),
		Coordinate:     domain.MustCoordinate(1, 2, 3),
		Payload:        json.RawMessage(`{"task":"write the benchmark","timestamp":"2025-03-14T15:09:26Z","tags":["a","b"]}`),
		Type:           domain.Episodic,
		Importance:     ptr(3.0),
		ImportanceNorm: 0.6,
		Embedding:      embedding(384),
		EmbeddingModel: "hash-v1/384",
	}
	msg, err := codec.Encode(e)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			if _, err := codec.Encode(e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			if _, err := codec.Decode(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("round_trip", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := codec.Encode(e)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := codec.Decode(m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
