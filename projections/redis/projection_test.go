package redis_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/projections"
	"github.com/somafractalmemory/soma/projections/redis"
)

// workload is n events over a few hundred coordinates of ns, spread over
// parts partitions by coordinate (as the partition key does): stores of
// both types, re-stores that change the type, deletes, importance changes
// and links. Offsets start at 0 in every partition.
func workload(g *gen, ns string, n, parts int, seed uint64) ([]projections.Envelope, []string) {
	rng := rand.New(rand.NewPCG(seed, 1))
	next := make([]int64, parts)
	keys := make([]string, 300)
	coords := make([]domain.Coordinate, len(keys))
	for i := range coords {
		coords[i] = coord(float64(i), 0.5)
		keys[i] = coords[i].Key()
	}
	out := make([]projections.Envelope, 0, n)
	for range n {
		i := rng.IntN(len(coords))
		c := coords[i]
		var ev domain.Event
		switch r := rng.IntN(100); {
		case r < 50:
			typ := domain.Episodic
			if rng.IntN(3) == 0 {
				typ = domain.Semantic
			}
			ev = g.store(ns, c, typ, fmt.Sprintf(`{"i":%d,"r":%d}`, i, rng.IntN(1000)))
		case r < 65:
			ev = g.del(ns, c)
		case r < 85:
			ev = g.setImportance(ns, c, float64(rng.IntN(10)), float64(rng.IntN(11))/10)
		default:
			ev = g.link(ns, c, coords[rng.IntN(len(coords))])
		}
		part := int32(i % parts)
		out = append(out, projections.Envelope{Event: ev, Source: "memory.events", Partition: part, Offset: next[part]})
		next[part]++
	}
	return out, keys
}

// state is everything a reader sees of one namespace.
type state struct {
	Counts    counts
	Positions map[int32]int64
	Records   map[string]domain.Memory
}

func readState(t *testing.T, p *redis.Projection, ns string, keys []string) state {
	t.Helper()
	ctx := testCtx(t)
	pos, err := p.Positions(ctx, "memory.events")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := p.Records(ctx, ns, keys)
	if err != nil {
		t.Fatal(err)
	}
	return state{Counts: mustCounts(t, ctx, p, ns), Positions: pos, Records: recs}
}

func applyInBatches(t *testing.T, p *redis.Projection, batch []projections.Envelope, size int) {
	t.Helper()
	ctx := testCtx(t)
	for i := 0; i < len(batch); i += size {
		mustApply(t, ctx, p, batch[i:min(i+size, len(batch))])
	}
}

func TestReplayFromOffsetZeroChangesNothing(t *testing.T) {
	p, _ := newProjection(t, redis.Config{})
	events, keys := workload(&gen{}, "replay", 1000, 4, 1)
	applyInBatches(t, p, events, 100)
	before := readState(t, p, "replay", keys)
	if before.Counts.Total == 0 || before.Counts.Total != before.Counts.Episodic+before.Counts.Semantic {
		t.Fatalf("counts after the workload = %+v, want a non-empty consistent set", before.Counts)
	}
	if int64(len(before.Records)) != before.Counts.Total {
		t.Fatalf("%d records but total %d", len(before.Records), before.Counts.Total)
	}

	// Redelivery from offset 0, in other batch sizes, whole and in one call.
	applyInBatches(t, p, events, 250)
	applyInBatches(t, p, events, len(events))
	if after := readState(t, p, "replay", keys); !reflect.DeepEqual(before, after) {
		t.Fatalf("replay changed the state:\ncounts %+v → %+v\npositions %v → %v", before.Counts, after.Counts, before.Positions, after.Positions)
	}
}

func TestNamespacesAreIsolated(t *testing.T) {
	p, _ := newProjection(t, redis.Config{})
	ctx := testCtx(t)
	g := &gen{}
	c := coord(1, 2)
	mustApply(t, ctx, p, at(0, 0,
		g.store("ns-a", c, domain.Episodic, `{"who":"a"}`),
		g.store("ns-b", c, domain.Semantic, `{"who":"b"}`),
		g.store("ns-b", coord(3), domain.Semantic, `{}`),
		g.del("ns-a", coord(3)),
		g.setImportance("ns-b", c, 4, 0.4),
	))
	if got := mustCounts(t, ctx, p, "ns-a"); got != (counts{Total: 1, Episodic: 1}) {
		t.Fatalf("ns-a counts = %+v", got)
	}
	if got := mustCounts(t, ctx, p, "ns-b"); got != (counts{Total: 2, Semantic: 2}) {
		t.Fatalf("ns-b counts = %+v", got)
	}
	a, ok, err := p.Record(ctx, "ns-a", c)
	if err != nil || !ok {
		t.Fatalf("Record(ns-a) = %v, %v", ok, err)
	}
	if a.Importance != nil || payloadText(t, a) != `{"who":"a"}` {
		t.Fatalf("ns-a memory = %+v, want untouched by ns-b", a)
	}
	recs, err := p.Records(ctx, "ns-a", []string{c.Key(), coord(3).Key()})
	if err != nil || len(recs) != 1 {
		t.Fatalf("Records(ns-a) = %v, %v; want only %s", recs, err, c.Key())
	}
}

func TestConcurrentApplyOfDifferentPartitions(t *testing.T) {
	p, _ := newProjection(t, redis.Config{ChunkEvents: 50})
	const parts = 4
	events, keys := workload(&gen{}, "conc", 2000, parts, 2)
	byPart := make([][]projections.Envelope, parts)
	for _, e := range events {
		byPart[e.Partition] = append(byPart[e.Partition], e)
	}
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, parts)
	for _, evs := range byPart {
		wg.Go(func() {
			for i := 0; i < len(evs); i += 37 {
				if err := p.Apply(ctx, evs[i:min(i+37, len(evs))]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	concurrent := readState(t, p, "conc", keys)

	serial, _ := newProjection(t, redis.Config{})
	applyInBatches(t, serial, events, 100)
	if want := readState(t, serial, "conc", keys); !reflect.DeepEqual(concurrent, want) {
		t.Fatalf("concurrent apply differs from serial apply:\ncounts %+v, want %+v\npositions %v, want %v",
			concurrent.Counts, want.Counts, concurrent.Positions, want.Positions)
	}
}

func TestStoreDropsImportanceSetOnPayload(t *testing.T) {
	p, _ := newProjection(t, redis.Config{})
	ctx := testCtx(t)
	g := &gen{}
	c := coord(7)
	mustApply(t, ctx, p, at(0, 0,
		g.store("ns", c, domain.Episodic, `{"importance":1,"big":12345678901234567890}`),
		g.setImportance("ns", c, 5, 0.5),
	))
	m, _, err := p.Record(ctx, "ns", c)
	if err != nil {
		t.Fatal(err)
	}
	if got := payloadText(t, m); got != `{"big":12345678901234567890,"importance":5}` {
		t.Fatalf("payload after importance set = %s", got)
	}
	mustApply(t, ctx, p, at(0, 2, g.store("ns", c, domain.Episodic, `{"importance":"high"}`)))
	m, _, err = p.Record(ctx, "ns", c)
	if err != nil {
		t.Fatal(err)
	}
	if got := payloadText(t, m); got != `{"importance":"high"}` || m.Importance != nil || m.Version != 3 {
		t.Fatalf("after re-store: payload %s, importance %v, version %d; want the new payload, none, 3", got, m.Importance, m.Version)
	}
}

func TestOffsetsCompareAsIntegers(t *testing.T) {
	p, _ := newProjection(t, redis.Config{})
	ctx := testCtx(t)
	g := &gen{}
	c := coord(1)
	// 9 → 10 (longer is newer), then values beyond 2^53 that a float64
	// cannot tell apart.
	const big = int64(1) << 60
	for _, off := range []int64{9, 10, big, big + 1} {
		mustApply(t, ctx, p, at(0, off, g.store("ns", c, domain.Episodic, fmt.Sprintf(`{"off":%d}`, off))))
	}
	mustApply(t, ctx, p, at(0, big, g.store("ns", c, domain.Episodic, `{"off":"stale"}`)))
	m, _, err := p.Record(ctx, "ns", c)
	if err != nil {
		t.Fatal(err)
	}
	if got := payloadText(t, m); got != fmt.Sprintf(`{"off":%d}`, big+1) || m.Version != 4 {
		t.Fatalf("payload %s version %d, want the event at offset %d, version 4", got, m.Version, big+1)
	}
	pos, err := p.Positions(ctx, "memory.events")
	if err != nil || pos[0] != big+1 {
		t.Fatalf("Positions = %v, %v; want partition 0 at %d", pos, err, big+1)
	}
}

func TestPoisonErrorNamesTheEvent(t *testing.T) {
	p, _ := newProjection(t, redis.Config{})
	ctx := testCtx(t)
	g := &gen{}
	bad := g.store("ns", coord(2), domain.Episodic, `{"unterminated":`)
	batch := at(3, 40, g.store("ns", coord(1), domain.Episodic, `{}`), &bad)
	err := p.Apply(ctx, batch)
	var pe *redis.PoisonError
	if !errors.As(err, &pe) || !errors.Is(err, projections.ErrPoison) {
		t.Fatalf("Apply = %v, want a *PoisonError wrapping ErrPoison", err)
	}
	if pe.Index != 1 || pe.Envelope.Offset != 41 || pe.Reason == "" {
		t.Fatalf("PoisonError = %+v, want index 1 at offset 41 with a reason", pe)
	}
	if pos, err := p.Positions(ctx, "memory.events"); err != nil || len(pos) != 0 {
		t.Fatalf("Positions after a poison batch = %v, %v; want none", pos, err)
	}
}

func TestNegativeOffsetIsRefusedWithoutPoison(t *testing.T) {
	p, _ := newProjection(t, redis.Config{})
	g := &gen{}
	err := p.Apply(testCtx(t), at(0, -1, g.store("ns", coord(1), domain.Episodic, `{}`)))
	if err == nil || errors.Is(err, projections.ErrPoison) {
		t.Fatalf("Apply at offset -1 = %v, want a non-poison error", err)
	}
}

func TestInvalidConfigIsReturnedByEveryCall(t *testing.T) {
	c := testClient(t)
	p := redis.New(c, redis.Config{Prefix: "bad prefix", Generation: "{g}"})
	ctx := testCtx(t)
	if err := p.Apply(ctx, at(0, 0, (&gen{}).del("ns", coord(1)))); !errors.Is(err, redis.ErrInvalidConfig) {
		t.Fatalf("Apply = %v, want ErrInvalidConfig", err)
	}
	if _, err := p.Positions(ctx, "memory.events"); !errors.Is(err, redis.ErrInvalidConfig) {
		t.Fatalf("Positions = %v, want ErrInvalidConfig", err)
	}
	if err := p.Promote(ctx); !errors.Is(err, redis.ErrInvalidConfig) {
		t.Fatalf("Promote = %v, want ErrInvalidConfig", err)
	}
}
