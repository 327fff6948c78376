package redis

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/testenv"
	"github.com/somafractalmemory/soma/projections"
)

// A script the server does not know (after a restart, a flush or a
// failover) is loaded and the whole transaction sent again.
func TestApplyLoadsAnUnknownScript(t *testing.T) {
	opts, err := goredis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prefix := "soma-test:" + uuid.NewString()[:13]
	defer func() {
		if err := DeleteGeneration(context.Background(), c, prefix, "t1"); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}()

	p := New(c, Config{Prefix: prefix, Generation: "t1", ChunkEvents: 2})
	// The same script with a unique comment: a hash the server never saw.
	p.script = goredis.NewScript(applyScript + "\n-- " + uuid.NewString() + "\n")
	if ok, err := p.script.Exists(ctx, c).Result(); err != nil || ok[0] {
		t.Fatalf("script exists = %v, %v; want an unknown script", ok, err)
	}
	meta := func() domain.EventMeta {
		return domain.EventMeta{EventID: uuid.NewString(), Namespace: "ns", OccurredAt: time.Now()}
	}
	var batch []projections.Envelope
	for i := range 5 {
		e := domain.MemoryStored{EventMeta: meta(), Coordinate: domain.MustCoordinate(float64(i)), Payload: json.RawMessage(`{}`), Type: domain.Episodic, ImportanceNorm: 0.5}
		batch = append(batch, projections.Envelope{Event: e, Source: "s", Partition: 0, Offset: int64(i)})
	}
	if err := p.Apply(ctx, batch); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if total, _, _, err := p.Counts(ctx, "ns"); err != nil || total != 5 {
		t.Fatalf("total = %d, %v; want 5 (every chunk applied once)", total, err)
	}
}

func TestDecodeRecordRejectsMalformedHashes(t *testing.T) {
	full := func() []any {
		return []any{"ns", "1,2", "episodic", `{"a":1}`, nil, "0.5", "2024-05-01T12:00:00Z", "2024-05-01T12:00:01Z", "2", uuid.NewString(), nil}
	}
	if _, ok, err := decodeRecord(full()); err != nil || !ok {
		t.Fatalf("decodeRecord(valid) = %v, %v", ok, err)
	}
	if _, ok, err := decodeRecord(make([]any, len(recordFields))); err != nil || ok {
		t.Fatalf("decodeRecord(absent) = %v, %v; want no memory, no error", ok, err)
	}
	for _, tc := range []struct {
		name  string
		field int
		value any
	}{
		{"missing_payload", 3, nil},
		{"payload_not_object", 3, `[1]`},
		{"bad_coordinate", 1, "x"},
		{"bad_time", 6, "yesterday"},
		{"bad_version", 8, "two"},
		{"bad_payload_importance", 10, "high"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals := full()
			vals[tc.field] = tc.value
			if _, _, err := decodeRecord(vals); err == nil {
				t.Fatalf("decodeRecord accepted %s = %v", recordFields[tc.field], tc.value)
			}
		})
	}
}
