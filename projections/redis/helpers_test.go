package redis_test

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
	"github.com/somafractalmemory/soma/projections/redis"
)

// testClient connects to the test Redis (skipping or failing as testenv
// says) and closes the client at the end of the test.
func testClient(t testing.TB) *goredis.Client {
	t.Helper()
	opts, err := goredis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("redis url: %v", err)
	}
	c := goredis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis ping: %v", err)
	}
	return c
}

// freshPrefix is a key prefix no other test uses; every key under it is
// removed at the end of the test.
func freshPrefix(t testing.TB, c *goredis.Client) string {
	t.Helper()
	prefix := "soma-test:" + uuid.NewString()[:13]
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("scan %s: %v", prefix, err)
			return
		}
		for len(keys) > 0 {
			n := min(len(keys), 1000)
			if err := c.Unlink(ctx, keys[:n]...).Err(); err != nil {
				t.Errorf("unlink under %s: %v", prefix, err)
				return
			}
			keys = keys[n:]
		}
	})
	return prefix
}

// newProjection is a projection over a fresh prefix.
func newProjection(t testing.TB, cfg redis.Config) (*redis.Projection, *goredis.Client) {
	t.Helper()
	c := testClient(t)
	if cfg.Prefix == "" {
		cfg.Prefix = freshPrefix(t, c)
	}
	return redis.New(c, cfg), c
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// gen builds valid events with unique ids and increasing times.
type gen struct{ n int }

func (g *gen) meta(ns string) domain.EventMeta {
	g.n++
	return domain.EventMeta{
		EventID:    uuid.NewString(),
		Namespace:  ns,
		OccurredAt: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(g.n) * time.Millisecond),
		Actor:      "test",
	}
}

func (g *gen) store(ns string, c domain.Coordinate, typ domain.MemoryType, payload string) domain.MemoryStored {
	return domain.MemoryStored{
		EventMeta:      g.meta(ns),
		Coordinate:     c,
		Payload:        json.RawMessage(payload),
		Type:           typ,
		ImportanceNorm: domain.NeutralImportance,
		Embedding:      []float32{1, 0, 0, 0},
		EmbeddingModel: "test/4",
	}
}

func (g *gen) del(ns string, c domain.Coordinate) domain.MemoryDeleted {
	return domain.MemoryDeleted{EventMeta: g.meta(ns), Coordinate: c}
}

func (g *gen) setImportance(ns string, c domain.Coordinate, raw, norm float64) domain.MemoryImportanceSet {
	return domain.MemoryImportanceSet{EventMeta: g.meta(ns), Coordinate: c, Importance: raw, ImportanceNorm: norm}
}

func (g *gen) link(ns string, from, to domain.Coordinate) domain.MemoriesLinked {
	return domain.MemoriesLinked{EventMeta: g.meta(ns), From: from, To: to, LinkType: "related", Weight: 1}
}

// at places events on partition part of source "memory.events" from
// offset first on.
func at(part int32, first int64, evs ...domain.Event) []projections.Envelope {
	out := make([]projections.Envelope, len(evs))
	for i, e := range evs {
		out[i] = projections.Envelope{Event: e, Source: "memory.events", Partition: part, Offset: first + int64(i)}
	}
	return out
}

func coord(vals ...float64) domain.Coordinate { return domain.MustCoordinate(vals...) }

type counts struct{ Total, Episodic, Semantic int64 }

func mustCounts(t testing.TB, ctx context.Context, p *redis.Projection, ns string) counts {
	t.Helper()
	var c counts
	var err error
	if c.Total, c.Episodic, c.Semantic, err = p.Counts(ctx, ns); err != nil {
		t.Fatalf("Counts(%s): %v", ns, err)
	}
	return c
}

func mustApply(t testing.TB, ctx context.Context, p *redis.Projection, batch []projections.Envelope) {
	t.Helper()
	if err := p.Apply(ctx, batch); err != nil {
		t.Fatalf("Apply(%d events): %v", len(batch), err)
	}
}

func payloadText(t testing.TB, m domain.Memory) string {
	t.Helper()
	b, err := json.Marshal(m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
