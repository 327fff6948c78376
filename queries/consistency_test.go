package queries_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/queries"
)

func token(parts map[int32]int64) consistency.Token {
	t := consistency.Token{Source: "memory.events"}
	for p, o := range parts {
		t.Add(p, o)
	}
	return t
}

type waitEnv struct {
	w                       *queries.Waiter
	qdrant, redis, postgres *positions
	wake                    chan struct{}
}

// newWaitEnv builds a waiter whose polling never fires within a test
// (1h backoff): only the wake channel or the timeout move it.
func newWaitEnv(t *testing.T, timeout time.Duration) waitEnv {
	t.Helper()
	e := waitEnv{
		qdrant: newPositions(map[int32]int64{3: 118}), redis: newPositions(map[int32]int64{3: 200}),
		postgres: newPositions(map[int32]int64{}), wake: make(chan struct{}, 1),
	}
	w, err := queries.NewWaiter(queries.WaiterConfig{
		Readers: map[string]queries.PositionReader{"qdrant": e.qdrant, "redis": e.redis, "postgres": e.postgres},
		Roles: map[queries.Role][]string{
			queries.RoleVectors: {"qdrant"}, queries.RoleRecords: {"redis", "postgres"}, queries.RoleGraph: {"postgres"},
		},
		Wake: e.wake, Timeout: timeout, PollMin: time.Hour, PollMax: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.w = w
	return e
}

func TestWaiter(t *testing.T) {
	t.Run("satisfied_immediately", func(t *testing.T) {
		e := newWaitEnv(t, time.Minute)
		e.postgres.set(3, 120)
		if err := e.w.Wait(context.Background(), token(map[int32]int64{3: 118}), queries.RoleVectors, queries.RoleRecords); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("zero_token_waits_for_nothing", func(t *testing.T) {
		e := newWaitEnv(t, time.Minute)
		if err := e.w.Wait(context.Background(), consistency.Token{}, queries.RoleVectors); err != nil {
			t.Fatal(err)
		}
		if len(e.qdrant.reads) != 0 {
			t.Fatal("positions were read for the zero token")
		}
	})
	t.Run("unmapped_role_waits_for_nothing", func(t *testing.T) {
		e := newWaitEnv(t, time.Minute)
		if err := e.w.Wait(context.Background(), token(map[int32]int64{3: 999}), queries.RoleHistory); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("satisfied_after_positions_advance", func(t *testing.T) {
		e := newWaitEnv(t, time.Minute)
		done := make(chan error, 1)
		go func() { done <- e.w.Wait(context.Background(), token(map[int32]int64{3: 120}), queries.RoleVectors) }()
		<-e.qdrant.reads // the first read saw 118
		e.qdrant.set(3, 120)
		e.wake <- struct{}{}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("one_wake_up_releases_every_waiter", func(t *testing.T) {
		e := newWaitEnv(t, time.Minute)
		done := make(chan error, 2)
		for range 2 {
			go func() { done <- e.w.Wait(context.Background(), token(map[int32]int64{3: 119}), queries.RoleVectors) }()
		}
		<-e.qdrant.reads
		<-e.qdrant.reads
		e.qdrant.set(3, 119)
		e.wake <- struct{}{}
		for range 2 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("only_read_models_still_behind_are_read_again", func(t *testing.T) {
		e := newWaitEnv(t, time.Minute)
		done := make(chan error, 1)
		go func() {
			done <- e.w.Wait(context.Background(), token(map[int32]int64{3: 120}), queries.RoleVectors, queries.RoleRecords)
		}()
		<-e.postgres.reads
		e.postgres.set(3, 120)
		e.wake <- struct{}{}
		<-e.postgres.reads // caught up
		<-e.qdrant.reads
		<-e.qdrant.reads // read twice, still behind
		e.qdrant.set(3, 120)
		e.wake <- struct{}{}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := len(e.postgres.reads); n != 0 {
			t.Fatalf("postgres read %d more times after catching up", n)
		}
	})
	t.Run("times_out_naming_the_lagging_read_model", func(t *testing.T) {
		e := newWaitEnv(t, 30*time.Millisecond)
		e.postgres.set(3, 500)
		err := e.w.Wait(context.Background(), token(map[int32]int64{3: 120, 1: 4}), queries.RoleVectors, queries.RoleRecords)
		var le *queries.LagError
		if !errors.As(err, &le) || !errors.Is(err, queries.ErrNotCaughtUp) {
			t.Fatalf("got %v", err)
		}
		want := []queries.Lagging{
			{ReadModel: "postgres", Partition: 1, Want: 4, Applied: -1},
			{ReadModel: "qdrant", Partition: 1, Want: 4, Applied: -1},
			{ReadModel: "qdrant", Partition: 3, Want: 120, Applied: 118},
			{ReadModel: "redis", Partition: 1, Want: 4, Applied: -1},
		}
		if !reflect.DeepEqual(le.Lagging, want) {
			t.Fatalf("lagging %+v", le.Lagging)
		}
		if !strings.Contains(err.Error(), "qdrant partition 3 applied 118 of 120") {
			t.Fatalf("message %q", err)
		}
	})
	t.Run("unreadable_positions_count_as_lagging", func(t *testing.T) {
		e := newWaitEnv(t, 20*time.Millisecond)
		e.qdrant.err = errDown
		err := e.w.Wait(context.Background(), token(map[int32]int64{3: 1}), queries.RoleVectors)
		var le *queries.LagError
		if !errors.As(err, &le) || len(le.Lagging) != 1 || le.Lagging[0].ReadModel != "qdrant" || !errors.Is(err, errDown) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("cancelled_context_ends_the_wait", func(t *testing.T) {
		e := newWaitEnv(t, time.Minute)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.w.Wait(ctx, token(map[int32]int64{3: 999}), queries.RoleVectors) }()
		<-e.qdrant.reads
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("polls_without_wake_source", func(t *testing.T) {
		p := newPositions(map[int32]int64{0: 1})
		w, err := queries.NewWaiter(queries.WaiterConfig{
			Readers: map[string]queries.PositionReader{"embedded": p},
			Roles:   map[queries.Role][]string{queries.RoleGraph: {"embedded"}},
			Timeout: time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- w.Wait(context.Background(), token(map[int32]int64{0: 2}), queries.RoleGraph) }()
		<-p.reads
		p.set(0, 2)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

func TestWaiterConfigValidate(t *testing.T) {
	err := queries.WaiterConfig{
		Readers: map[string]queries.PositionReader{"postgres": newPositions(nil)},
		Roles:   map[queries.Role][]string{queries.RoleGraph: {"postgres", "neo4j"}},
	}.Validate()
	if err == nil || !strings.Contains(err.Error(), "timeout") || !strings.Contains(err.Error(), `"neo4j"`) {
		t.Fatalf("want every problem reported, got %v", err)
	}
}

func TestQueriesAwaitTheirReadModels(t *testing.T) {
	e := newWaitEnv(t, 20*time.Millisecond)
	f := newFixture(t, func(d *queries.Deps) { d.Consistency = e.w })
	seedRecall(f)
	seedGraph(f)
	tok := token(map[int32]int64{3: 120})
	t.Run("recall_waits_for_vectors_and_records", func(t *testing.T) {
		_, err := f.app.Recall.Handle(context.Background(), queries.Recall{Caller: queries.Caller{Namespace: ns, Token: tok}, Query: "q", TopK: 1})
		var le *queries.LagError
		if !errors.As(err, &le) {
			t.Fatalf("got %v", err)
		}
		var names []string
		for _, l := range le.Lagging {
			names = append(names, l.ReadModel)
		}
		if !reflect.DeepEqual(names, []string{"postgres", "qdrant"}) {
			t.Fatalf("lagging %v", names)
		}
		if f.emb.calls != nil {
			t.Fatal("embedded before the read models caught up")
		}
	})
	t.Run("neighbors_waits_for_graph_only", func(t *testing.T) {
		e.postgres.set(3, 120)
		got, err := f.app.Neighbors.Handle(context.Background(), queries.Neighbors{Caller: queries.Caller{Namespace: ns, Token: tok}, Coordinate: coord(1), Limit: 5})
		if err != nil || len(got) != 3 {
			t.Fatalf("%v %v", got, err)
		}
	})
	t.Run("without_token_no_wait", func(t *testing.T) {
		got, err := f.app.GetMemory.Handle(context.Background(), queries.GetMemory{Caller: caller(), Coordinate: coord(1)})
		if err != nil || got.Type != domain.Episodic {
			t.Fatalf("%v %v", got, err)
		}
	})
}
