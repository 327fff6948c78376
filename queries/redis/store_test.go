package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/testenv"
	"github.com/somafractalmemory/soma/projections"
	redisproj "github.com/somafractalmemory/soma/projections/redis"
	"github.com/somafractalmemory/soma/queries"
	"github.com/somafractalmemory/soma/queries/redis"
)

// roundTrips counts what a client sends: single commands and pipelines
// (a MULTI/EXEC or a pipeline is one round trip).
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (r *roundTrips) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

// setup returns a client with a round-trip counter, a fresh prefix whose
// keys are removed at the end, and a context.
func setup(t *testing.T) (*goredis.Client, *roundTrips, string, context.Context) {
	t.Helper()
	opts, err := goredis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("redis url: %v", err)
	}
	c := goredis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis ping: %v", err)
	}
	prefix := "soma-test:" + uuid.NewString()[:13]
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := c.Keys(ctx, prefix+":*").Result()
		if err == nil && len(keys) > 0 {
			err = c.Unlink(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("cleanup %s: %v", prefix, err)
		}
	})
	rt := &roundTrips{}
	c.AddHook(rt)
	return c, rt, prefix, ctx
}

var n atomic.Int64

func stored(ns string, c domain.Coordinate, typ domain.MemoryType, payload string) domain.MemoryStored {
	i := n.Add(1)
	return domain.MemoryStored{
		EventMeta: domain.EventMeta{
			EventID:    uuid.NewString(),
			Namespace:  ns,
			OccurredAt: time.Date(2024, 5, 1, 12, 0, 0, int(i)*1000, time.UTC),
		},
		Coordinate:     c,
		Payload:        json.RawMessage(payload),
		Type:           typ,
		ImportanceNorm: domain.NeutralImportance,
	}
}

func apply(t *testing.T, ctx context.Context, p *redisproj.Projection, first int64, evs ...domain.Event) {
	t.Helper()
	batch := make([]projections.Envelope, len(evs))
	for i, e := range evs {
		batch[i] = projections.Envelope{Event: e, Source: "memory.events", Partition: 0, Offset: first + int64(i)}
	}
	if err := p.Apply(ctx, batch); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func TestRecordsReadsEveryKeyInOneRoundTrip(t *testing.T) {
	c, rt, prefix, ctx := setup(t)
	p := redisproj.New(c, redisproj.Config{Prefix: prefix})
	var evs []domain.Event
	var keys []string
	for i := range 50 {
		co := domain.MustCoordinate(float64(i), -1.5)
		typ := domain.Episodic
		if i%2 == 1 {
			typ = domain.Semantic
		}
		evs = append(evs, stored("ns", co, typ, fmt.Sprintf(`{"i":%d}`, i)))
		keys = append(keys, co.Key())
	}
	apply(t, ctx, p, 0, evs...)
	keys = append(keys, domain.MustCoordinate(99).Key()) // never stored

	s := redis.New(c, redis.Config{Prefix: prefix, Generation: redisproj.DefaultGeneration})
	before := rt.n.Load()
	got, err := s.Records(ctx, "ns", keys)
	if err != nil {
		t.Fatal(err)
	}
	if trips := rt.n.Load() - before; trips != 1 {
		t.Fatalf("Records made %d round trips, want 1", trips)
	}
	if len(got) != 50 {
		t.Fatalf("Records returned %d memories, want 50 (the missing key absent)", len(got))
	}
	m := got[domain.MustCoordinate(3, -1.5).Key()]
	want, _ := domain.MemoryFromStored(evs[3].(domain.MemoryStored))
	if m.Type != domain.Semantic || !m.Coordinate.Equal(want.Coordinate) || m.Namespace != "ns" ||
		!reflect.DeepEqual(m.Payload, want.Payload) || !m.StoredAt.Equal(want.StoredAt) || m.Version != 1 || m.LastEventID != want.LastEventID {
		t.Fatalf("memory = %+v, want %+v", m, want)
	}
	if got, err := s.Records(ctx, "other", keys); err != nil || len(got) != 0 {
		t.Fatalf("Records(other namespace) = %v, %v; want none", got, err)
	}
	if got, err := s.Records(ctx, "ns", nil); err != nil || len(got) != 0 {
		t.Fatalf("Records(no keys) = %v, %v; want an empty map", got, err)
	}
}

func TestCountsAndPositions(t *testing.T) {
	c, _, prefix, ctx := setup(t)
	p := redisproj.New(c, redisproj.Config{Prefix: prefix})
	apply(t, ctx, p, 0,
		stored("ns", domain.MustCoordinate(1), domain.Episodic, `{}`),
		stored("ns", domain.MustCoordinate(2), domain.Semantic, `{}`),
		stored("ns", domain.MustCoordinate(3), domain.Semantic, `{}`),
	)
	s := redis.New(c, redis.Config{Prefix: prefix})
	if got, err := s.Counts(ctx, "ns"); err != nil || got != (queries.Stats{Total: 3, Episodic: 1, Semantic: 2}) {
		t.Fatalf("Counts = %+v, %v", got, err)
	}
	if got, err := s.Counts(ctx, "unknown"); err != nil || got != (queries.Stats{}) {
		t.Fatalf("Counts(unknown) = %+v, %v; want zero", got, err)
	}
	if got, err := s.Positions(ctx, "memory.events"); err != nil || !reflect.DeepEqual(got, map[int32]int64{0: 2}) {
		t.Fatalf("Positions = %v, %v; want map[0:2]", got, err)
	}
	if got, err := s.Positions(ctx, "event_log"); err != nil || len(got) != 0 {
		t.Fatalf("Positions(other source) = %v, %v; want none", got, err)
	}
}

func TestFollowsThePromotedGeneration(t *testing.T) {
	c, _, prefix, ctx := setup(t)
	g1 := redisproj.New(c, redisproj.Config{Prefix: prefix})
	g2 := redisproj.New(c, redisproj.Config{Prefix: prefix, Generation: "g2"})
	co := domain.MustCoordinate(1)
	apply(t, ctx, g1, 0, stored("ns", co, domain.Episodic, `{"gen":1}`))
	apply(t, ctx, g2, 0, stored("ns", co, domain.Semantic, `{"gen":2}`))

	following := redis.New(c, redis.Config{Prefix: prefix, PointerTTL: -1})
	pinned := redis.New(c, redis.Config{Prefix: prefix, Generation: "g1"})
	cached := redis.New(c, redis.Config{Prefix: prefix, PointerTTL: time.Hour})
	gen := func(s *redis.Store) string {
		t.Helper()
		g, err := s.Generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	if gen(following) != "g1" || gen(cached) != "g1" {
		t.Fatalf("before any promote: %s, %s; want g1 (the default)", gen(following), gen(cached))
	}
	if err := g2.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if got := gen(following); got != "g2" {
		t.Fatalf("following store reads %s after promote, want g2", got)
	}
	if got := gen(pinned); got != "g1" {
		t.Fatalf("pinned store reads %s, want g1", got)
	}
	if got := gen(cached); got != "g1" {
		t.Fatalf("store with a long TTL reads %s, want g1 until the TTL passes", got)
	}
	recs, err := following.Records(ctx, "ns", []string{co.Key()})
	if err != nil || recs[co.Key()].Type != domain.Semantic {
		t.Fatalf("Records through the pointer = %v, %v; want g2's memory", recs, err)
	}
}

func TestInvalidConfigIsReturnedByEveryCall(t *testing.T) {
	s := redis.New(nil, redis.Config{Prefix: "a b", Generation: "{x}"})
	ctx := context.Background()
	if _, err := s.Records(ctx, "ns", []string{"1"}); !errors.Is(err, redis.ErrInvalidConfig) {
		t.Fatalf("Records = %v, want ErrInvalidConfig", err)
	}
	if _, err := s.Counts(ctx, "ns"); !errors.Is(err, redis.ErrInvalidConfig) {
		t.Fatalf("Counts = %v, want ErrInvalidConfig", err)
	}
	if _, err := s.Positions(ctx, "s"); !errors.Is(err, redis.ErrInvalidConfig) {
		t.Fatalf("Positions = %v, want ErrInvalidConfig", err)
	}
}
