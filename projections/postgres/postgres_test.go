package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/projections"
	"github.com/somafractalmemory/soma/projections/direct"
	"github.com/somafractalmemory/soma/projections/postgres"
)

// The Postgres projection is the canonical log of direct-write mode.
var _ direct.Log = (*postgres.Projection)(nil)

const (
	topic = "memory.events"
	ns    = "tenant"
)

var t0 = time.Date(2024, 6, 1, 8, 0, 0, 0, time.UTC)

// gen builds valid events with unique ids and increasing times.
type gen struct{ n int }

func (g *gen) meta() domain.EventMeta {
	g.n++
	return domain.EventMeta{EventID: uuid.NewString(), Namespace: ns, OccurredAt: t0.Add(time.Duration(g.n) * time.Second)}
}

func (g *gen) store(c domain.Coordinate, payload string) domain.MemoryStored {
	return domain.MemoryStored{EventMeta: g.meta(), Coordinate: c, Payload: json.RawMessage(payload), Type: domain.Episodic,
		ImportanceNorm: domain.NeutralImportance, Embedding: []float32{1, 0}, EmbeddingModel: "test/2"}
}

func (g *gen) link(from, to domain.Coordinate, typ string) domain.MemoriesLinked {
	return domain.MemoriesLinked{EventMeta: g.meta(), From: from, To: to, LinkType: typ, Weight: 1}
}

func (g *gen) del(c domain.Coordinate) domain.MemoryDeleted {
	return domain.MemoryDeleted{EventMeta: g.meta(), Coordinate: c}
}

// at places events on partition 0 of topic from offset first.
func at(first int64, evs ...domain.Event) []projections.Envelope {
	out := make([]projections.Envelope, len(evs))
	for i, e := range evs {
		out[i] = projections.Envelope{Event: e, Source: topic, Partition: 0, Offset: first + int64(i)}
	}
	return out
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustApply(t *testing.T, ctx context.Context, p *postgres.Projection, batch []projections.Envelope) {
	t.Helper()
	if err := p.Apply(ctx, batch); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  postgres.Config
		ok   bool
	}{
		{"accepts_default_schema", postgres.Config{Encoder: jsonEncoder{}}, true},
		{"accepts_generation_schema", postgres.Config{Schema: "soma_g2", Encoder: jsonEncoder{}}, true},
		{"rejects_upper_case_schema", postgres.Config{Schema: "Soma", Encoder: jsonEncoder{}}, false},
		{"rejects_schema_with_quote", postgres.Config{Schema: `soma"; drop`, Encoder: jsonEncoder{}}, false},
		{"rejects_schema_starting_with_digit", postgres.Config{Schema: "1soma", Encoder: jsonEncoder{}}, false},
		{"rejects_missing_encoder", postgres.Config{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, postgres.ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want it to wrap ErrInvalidConfig", err)
			}
		})
	}
	t.Run("invalid_config_fails_every_call", func(t *testing.T) {
		p := postgres.New(nil, postgres.Config{Schema: "BAD"})
		if err := p.Apply(context.Background(), at(0, (&gen{}).del(domain.MustCoordinate(1)))); !errors.Is(err, postgres.ErrInvalidConfig) {
			t.Fatalf("Apply = %v, want ErrInvalidConfig", err)
		}
		if _, err := p.Positions(context.Background(), topic); !errors.Is(err, postgres.ErrInvalidConfig) {
			t.Fatalf("Positions = %v, want ErrInvalidConfig", err)
		}
	})
}

func TestMigrate(t *testing.T) {
	pool := testPool(t)
	ctx := testCtx(t)
	schema := freshSchema(t, pool)

	t.Run("is_idempotent_and_concurrency_safe", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() { errs[i] = postgres.Migrate(ctx, pool, schema) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("Migrate again: %v", err)
			}
		}
	})
	t.Run("keeps_everything_inside_the_schema", func(t *testing.T) {
		rows, err := pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, schema)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"checkpoints", "event_log", "goose_db_version", "links", "namespace_counts", "records", "tombstones"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("tables in %s = %v, want %v", schema, got, want)
		}
	})
	t.Run("rejects_bad_schema_name", func(t *testing.T) {
		if err := postgres.Migrate(ctx, pool, "x;drop"); !errors.Is(err, postgres.ErrInvalidConfig) {
			t.Fatalf("Migrate = %v, want ErrInvalidConfig", err)
		}
	})
}

func TestReaders(t *testing.T) {
	p, _ := newProjection(t)
	ctx := testCtx(t)
	g := &gen{}
	a, b, c, d := domain.MustCoordinate(1), domain.MustCoordinate(2), domain.MustCoordinate(3), domain.MustCoordinate(4)
	stA := g.store(a, `{"text":"a"}`)
	ab, ac, ad := g.link(a, b, "related"), g.link(a, c, "cause"), g.link(a, d, "related")
	mustApply(t, ctx, p, at(0, stA, g.store(b, `{}`), ab, ac, ad, g.link(c, a, "ignored")))

	t.Run("neighbors_filter_by_type_then_limit", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			typ   string
			limit int
			want  []string
		}{
			{"all", "", 10, []string{"2", "3", "4"}},
			{"limited", "", 2, []string{"2", "3"}},
			{"typed", "related", 10, []string{"2", "4"}},
			{"typed_then_limited", "related", 1, []string{"2"}},
			{"zero_limit", "", 0, []string{}},
			{"negative_limit", "", -1, []string{}},
			{"unknown_type", "nope", 10, []string{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ls, err := p.Neighbors(ctx, ns, a, tc.typ, tc.limit)
				if err != nil {
					t.Fatal(err)
				}
				got := []string{}
				for _, l := range ls {
					got = append(got, l.To.Key())
					if !l.From.Equal(a) {
						t.Fatalf("From = %v, want %v", l.From, a)
					}
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("Neighbors = %v, want %v", got, tc.want)
				}
			})
		}
		t.Run("unknown_coordinate_is_empty", func(t *testing.T) {
			ls, err := p.Neighbors(ctx, ns, domain.MustCoordinate(99), "", 10)
			if err != nil || ls == nil || len(ls) != 0 {
				t.Fatalf("Neighbors = %v, %v; want an empty list", ls, err)
			}
		})
	})
	t.Run("exists_reports_every_key", func(t *testing.T) {
		got, err := p.Exists(ctx, ns, []string{"1", "2", "3", "1"})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]bool{"1": true, "2": true, "3": false}; !reflect.DeepEqual(got, want) {
			t.Fatalf("Exists = %v, want %v", got, want)
		}
		if got, err := p.Exists(ctx, "other", []string{"1"}); err != nil || got["1"] {
			t.Fatalf("Exists in another namespace = %v, %v", got, err)
		}
	})
	t.Run("counts_of_unknown_namespace_are_zero", func(t *testing.T) {
		tot, ep, se, err := p.Counts(ctx, "nobody")
		if err != nil || tot != 0 || ep != 0 || se != 0 {
			t.Fatalf("Counts = %d %d %d %v", tot, ep, se, err)
		}
	})
	t.Run("history_lists_the_subjects_events_in_log_order", func(t *testing.T) {
		h, err := p.History(ctx, ns, a, 10)
		if err != nil {
			t.Fatal(err)
		}
		wantIDs := []string{stA.EventID, ab.EventID, ac.EventID, ad.EventID}
		var gotIDs []string
		for i, e := range h {
			gotIDs = append(gotIDs, e.EventID)
			if i > 0 && e.Seq <= h[i-1].Seq {
				t.Fatalf("history not in seq order: %+v", h)
			}
		}
		if !reflect.DeepEqual(gotIDs, wantIDs) {
			t.Fatalf("History ids = %v, want %v", gotIDs, wantIDs)
		}
		first := h[0]
		if first.EventType != domain.EventMemoryStored || first.Source != topic || first.Partition != 0 || first.Offset != 0 || !first.OccurredAt.Equal(stA.OccurredAt) {
			t.Fatalf("first entry = %+v", first)
		}
		var body struct{ Type string }
		if err := json.Unmarshal(first.Body, &body); err != nil || body.Type != domain.EventMemoryStored {
			t.Fatalf("body = %s (%v), want the encoder's output", first.Body, err)
		}
		last2, err := p.History(ctx, ns, a, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(last2) != 2 || last2[0].EventID != ac.EventID || last2[1].EventID != ad.EventID {
			t.Fatalf("History(limit 2) = %+v, want the last two events, oldest first", last2)
		}
		// The ignored link (from c, which holds no memory) is history too.
		hc, err := p.History(ctx, ns, c, 10)
		if err != nil || len(hc) != 1 || hc[0].EventType != domain.EventMemoriesLinked {
			t.Fatalf("History(c) = %+v, %v", hc, err)
		}
	})
}

func TestApply(t *testing.T) {
	t.Run("skips_an_event_id_already_applied_at_another_offset", func(t *testing.T) {
		p, _ := newProjection(t)
		ctx := testCtx(t)
		g := &gen{}
		a := domain.MustCoordinate(1)
		st := g.store(a, `{"v":1}`)
		mustApply(t, ctx, p, at(0, st))
		mustApply(t, ctx, p, at(1, st, g.link(a, a, "self")))
		m, _, err := p.Get(ctx, ns, a)
		if err != nil || m.Version != 1 {
			t.Fatalf("Version = %d (%v), want 1: the duplicate must not count", m.Version, err)
		}
		if pos, _ := p.Positions(ctx, topic); pos[0] != 2 {
			t.Fatalf("Positions = %v, want the duplicate's offset passed", pos)
		}
		if ls, _ := p.Neighbors(ctx, ns, a, "", 10); len(ls) != 1 {
			t.Fatalf("Neighbors = %v, want the event after the duplicate applied", ls)
		}
	})

	t.Run("notifies_the_schema_after_commit", func(t *testing.T) {
		p, pool := newProjection(t)
		ctx := testCtx(t)
		conn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		if _, err := conn.Exec(ctx, "LISTEN "+postgres.NotifyChannel); err != nil {
			t.Fatal(err)
		}
		mustApply(t, ctx, p, at(0, (&gen{}).store(domain.MustCoordinate(1), `{}`)))
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for {
			n, err := conn.Conn().WaitForNotification(wctx)
			if err != nil {
				t.Fatalf("no notification: %v", err)
			}
			if n.Payload == p.Schema() {
				break
			}
		}
		if _, err := conn.Exec(ctx, "UNLISTEN *"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("concurrent_calls_with_the_same_batch_apply_it_once", func(t *testing.T) {
		p, _ := newProjection(t)
		ctx := testCtx(t)
		g := &gen{}
		var evs []domain.Event
		for i := range 50 {
			evs = append(evs, g.store(domain.MustCoordinate(float64(i)), `{}`))
		}
		batch := at(0, evs...)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = p.Apply(ctx, batch) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
		}
		if tot, _, _, err := p.Counts(ctx, ns); err != nil || tot != 50 {
			t.Fatalf("total = %d (%v), want 50", tot, err)
		}
		if m, _, _ := p.Get(ctx, ns, domain.MustCoordinate(7)); m.Version != 1 {
			t.Fatalf("Version = %d, want 1", m.Version)
		}
	})

	t.Run("finds_the_event_postgres_refuses", func(t *testing.T) {
		p, _ := newProjection(t)
		ctx := testCtx(t)
		g := &gen{}
		// Valid JSON that jsonb cannot hold: numeric overflow.
		bad := g.store(domain.MustCoordinate(2), `{"x":1e1000000}`)
		batch := at(0, g.store(domain.MustCoordinate(1), `{}`), bad, g.store(domain.MustCoordinate(3), `{}`))
		err := p.Apply(ctx, batch)
		var pe *projections.PoisonError
		if !errors.As(err, &pe) || !errors.Is(err, projections.ErrPoison) {
			t.Fatalf("Apply = %v, want a *PoisonError", err)
		}
		if pe.Index != 1 || pe.Envelope.Offset != 1 || pe.Err == nil {
			t.Fatalf("PoisonError = %+v, want index 1 with the postgres error", pe)
		}
		if tot, _, _, _ := p.Counts(ctx, ns); tot != 0 {
			t.Fatalf("total = %d, want nothing applied", tot)
		}
		mustApply(t, ctx, p, []projections.Envelope{batch[0], batch[2]})
		if tot, _, _, _ := p.Counts(ctx, ns); tot != 2 {
			t.Fatalf("total = %d, want 2", tot)
		}
	})

	t.Run("payload_with_nul_character_is_poison", func(t *testing.T) {
		p, _ := newProjection(t)
		err := p.Apply(testCtx(t), at(0, (&gen{}).store(domain.MustCoordinate(1), `{"s":"a\u0000b"}`)))
		if !errors.Is(err, projections.ErrPoison) {
			t.Fatalf("Apply = %v, want poison", err)
		}
	})

	t.Run("encoder_errors_are_transient_unless_poison", func(t *testing.T) {
		pool := testPool(t)
		schema := freshSchema(t, pool)
		ctx := testCtx(t)
		boom := errors.New("registry unreachable")
		for _, tc := range []struct {
			name   string
			err    error
			poison bool
		}{
			{"transient", boom, false},
			{"poison", fmt.Errorf("no schema: %w", projections.ErrPoison), true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := postgres.New(pool, postgres.Config{Schema: schema, Encoder: failingEncoder{tc.err}})
				err := p.Apply(ctx, at(0, (&gen{}).store(domain.MustCoordinate(1), `{}`)))
				if err == nil || errors.Is(err, projections.ErrPoison) != tc.poison {
					t.Fatalf("Apply = %v, want poison=%v", err, tc.poison)
				}
				if pos, _ := p.Positions(ctx, topic); len(pos) != 0 {
					t.Fatalf("Positions = %v, want nothing applied", pos)
				}
			})
		}
	})
}

type failingEncoder struct{ err error }

func (f failingEncoder) EncodeBody(domain.Event) ([]byte, error) { return nil, f.err }

func TestAppend(t *testing.T) {
	t.Run("concurrent_appends_commit_increasing_positions", func(t *testing.T) {
		p, _ := newProjection(t)
		ctx := testCtx(t)
		const writers, each = 4, 15
		var (
			mu   sync.Mutex
			offs []int64
			wg   sync.WaitGroup
		)
		errs := make([]error, writers)
		for w := range writers {
			wg.Go(func() {
				g := &gen{}
				for i := range each {
					envs, err := p.Append(ctx, []domain.Event{g.store(domain.MustCoordinate(float64(w), float64(i)), `{}`)})
					if err != nil {
						errs[w] = err
						return
					}
					if len(envs) != 1 || envs[0].Source != consistency.EventLogSource || envs[0].Partition != 0 {
						errs[w] = fmt.Errorf("envelopes = %+v", envs)
						return
					}
					// Read-your-writes: once Append returns, the position
					// covers the event.
					pos, err := p.Positions(ctx, consistency.EventLogSource)
					if err != nil || pos[0] < envs[0].Offset {
						errs[w] = fmt.Errorf("Positions = %v, %v after append at %d", pos, err, envs[0].Offset)
						return
					}
					mu.Lock()
					offs = append(offs, envs[0].Offset)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if tot, _, _, err := p.Counts(ctx, ns); err != nil || tot != writers*each {
			t.Fatalf("total = %d (%v), want %d", tot, err, writers*each)
		}
		seen := map[int64]bool{}
		for _, o := range offs {
			if seen[o] {
				t.Fatalf("offset %d returned twice", o)
			}
			seen[o] = true
		}
	})

	t.Run("replay_of_the_log_into_a_new_schema_keeps_positions", func(t *testing.T) {
		pool := testPool(t)
		ctx := testCtx(t)
		serving := postgres.New(pool, postgres.Config{Schema: freshSchema(t, pool), Encoder: jsonEncoder{}, Decoder: jsonEncoder{}})
		g := &gen{}
		a, b := domain.MustCoordinate(1), domain.MustCoordinate(2)
		var log []projections.Envelope
		for _, evs := range [][]domain.Event{
			{g.store(a, `{"v":1}`), g.store(b, `{"v":1}`)},
			{g.link(a, b, "related")},
			{g.store(a, `{"v":2}`), g.del(b)},
		} {
			envs, err := serving.Append(ctx, evs)
			if err != nil {
				t.Fatal(err)
			}
			log = append(log, envs...)
		}
		last := log[len(log)-1].Offset

		// The log reads back in order, in pages.
		page, err := serving.Events(ctx, 0, 2)
		if err != nil || len(page) != 2 || page[0].Offset != log[0].Offset || page[1].Event.Metadata().EventID != log[1].Event.Metadata().EventID {
			t.Fatalf("Events(0, 2) = %+v, %v; want the first two appended", page, err)
		}
		if rest, err := serving.Events(ctx, last, 10); err != nil || len(rest) != 0 {
			t.Fatalf("Events(after the last) = %+v, %v; want none", rest, err)
		}

		// Direct mode's replay: catch a fresh schema up from the log.
		next := postgres.New(pool, postgres.Config{Schema: freshSchema(t, pool), Encoder: jsonEncoder{}, Decoder: jsonEncoder{}})
		if err := direct.CatchUp(ctx, serving, next, 2); err != nil {
			t.Fatalf("CatchUp: %v", err)
		}
		for _, p := range []*postgres.Projection{serving, next} {
			m, ok, err := p.Get(ctx, ns, a)
			if err != nil || !ok || m.Version != 2 {
				t.Fatalf("%s: Get(a) = %+v, %v, %v", p.Schema(), m, ok, err)
			}
			if _, ok, _ := p.Get(ctx, ns, b); ok {
				t.Fatalf("%s: b still there", p.Schema())
			}
			pos, err := p.Positions(ctx, consistency.EventLogSource)
			if err != nil || pos[0] != last {
				t.Fatalf("%s: Positions = %v, %v; want %d", p.Schema(), pos, err, last)
			}
			h, err := p.History(ctx, ns, a, 10)
			if err != nil || len(h) != 3 || h[0].Seq != log[0].Offset || h[2].Seq != log[3].Offset {
				t.Fatalf("%s: History(a) = %+v, %v; want seq = log offsets", p.Schema(), h, err)
			}
		}
		// The new generation's log continues after the replayed events.
		envs, err := next.Append(ctx, []domain.Event{g.del(a)})
		if err != nil || envs[0].Offset <= last {
			t.Fatalf("Append after replay = %+v, %v; want an offset after %d", envs, err, last)
		}
	})

	t.Run("events_need_a_decoder_and_skip_other_sources", func(t *testing.T) {
		pool := testPool(t)
		ctx := testCtx(t)
		schema := freshSchema(t, pool)
		p := postgres.New(pool, postgres.Config{Schema: schema, Encoder: jsonEncoder{}, Decoder: jsonEncoder{}})
		mustApply(t, ctx, p, at(0, (&gen{}).store(domain.MustCoordinate(1), `{}`))) // from the topic
		if evs, err := p.Events(ctx, 0, 10); err != nil || len(evs) != 0 {
			t.Fatalf("Events = %+v, %v; want none (only direct-mode appends are the log)", evs, err)
		}
		noDecoder := postgres.New(pool, postgres.Config{Schema: schema, Encoder: jsonEncoder{}})
		if _, err := noDecoder.Events(ctx, 0, 10); !errors.Is(err, postgres.ErrNoDecoder) {
			t.Fatalf("Events = %v, want ErrNoDecoder", err)
		}
	})

	t.Run("poison_event_appends_nothing", func(t *testing.T) {
		p, _ := newProjection(t)
		ctx := testCtx(t)
		g := &gen{}
		bad := g.link(domain.MustCoordinate(1), domain.MustCoordinate(2), "x")
		bad.EventID = "nope"
		_, err := p.Append(ctx, []domain.Event{g.store(domain.MustCoordinate(1), `{}`), bad})
		var pe *projections.PoisonError
		if !errors.As(err, &pe) || pe.Index != 1 {
			t.Fatalf("Append = %v, want a *PoisonError at index 1", err)
		}
		if pos, _ := p.Positions(ctx, consistency.EventLogSource); len(pos) != 0 {
			t.Fatalf("Positions = %v, want nothing appended", pos)
		}
	})
}
