package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/testenv"
	"github.com/somafractalmemory/soma/projections"
	ppg "github.com/somafractalmemory/soma/projections/postgres"
	"github.com/somafractalmemory/soma/queries/postgres"
)

const topic = "memory.events"

// jsonEncoder is the projection tests' EventEncoder: the event name and
// the event as JSON.
type jsonEncoder struct{}

func (jsonEncoder) EncodeBody(e domain.Event) ([]byte, error) {
	return json.Marshal(struct {
		Type  string       `json:"type"`
		Event domain.Event `json:"event"`
	}{e.EventName(), e})
}

// jsonDecoder reads jsonEncoder's bodies back.
type jsonDecoder struct{}

func (jsonDecoder) DecodeBody(b []byte) (domain.Event, error) {
	var env struct {
		Type  string          `json:"type"`
		Event json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, err
	}
	var ev domain.Event
	switch env.Type {
	case domain.EventMemoryStored:
		ev = &domain.MemoryStored{}
	case domain.EventMemoryDeleted:
		ev = &domain.MemoryDeleted{}
	case domain.EventMemoriesLinked:
		ev = &domain.MemoriesLinked{}
	case domain.EventMemoryUnlinked:
		ev = &domain.MemoryUnlinked{}
	case domain.EventMemoryImportanceSet:
		ev = &domain.MemoryImportanceSet{}
	default:
		return nil, fmt.Errorf("unknown event type %q", env.Type)
	}
	if err := json.Unmarshal(env.Event, ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// testPool connects to the test server (skipping or failing as testenv
// says); edit may change the pool's config.
func testPool(t testing.TB, edit ...func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	url := testenv.PostgresURL(t)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edit {
		e(cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to postgres: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// freshSchema migrates a new schema with a random name and drops it at the
// end of the test.
func freshSchema(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "soma_qtest_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ppg.Migrate(ctx, pool, schema); err != nil {
		t.Fatalf("migrate %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// fixture is a read model filled by the projection, and the store
// reading it.
type fixture struct {
	t      testing.TB
	pool   *pgxpool.Pool
	schema string
	proj   *ppg.Projection
	store  *postgres.Store
	n      int
	offset int64
}

func newFixture(t testing.TB, edit ...func(*pgxpool.Config)) *fixture {
	t.Helper()
	pool := testPool(t, edit...)
	schema := freshSchema(t, pool)
	return &fixture{
		t: t, pool: pool, schema: schema,
		proj:  ppg.New(pool, ppg.Config{Schema: schema, Encoder: jsonEncoder{}}),
		store: postgres.New(pool, schema),
	}
}

var t0 = time.Date(2024, 6, 1, 8, 0, 0, 0, time.UTC)

func (f *fixture) meta(ns string) domain.EventMeta {
	f.n++
	return domain.EventMeta{EventID: uuid.NewString(), Namespace: ns, OccurredAt: t0.Add(time.Duration(f.n) * time.Second), Actor: "test"}
}

func (f *fixture) stored(ns string, c domain.Coordinate, payload string) domain.MemoryStored {
	return domain.MemoryStored{EventMeta: f.meta(ns), Coordinate: c, Payload: json.RawMessage(payload), Type: domain.Episodic,
		ImportanceNorm: domain.NeutralImportance, Embedding: []float32{1, 0}, EmbeddingModel: "test/2"}
}

func (f *fixture) link(ns string, from, to domain.Coordinate, typ string, w float64) domain.MemoriesLinked {
	return domain.MemoriesLinked{EventMeta: f.meta(ns), From: from, To: to, LinkType: typ, Weight: w}
}

// apply runs the projection over events, as the projector would.
func (f *fixture) apply(evs ...domain.Event) {
	f.t.Helper()
	batch := make([]projections.Envelope, len(evs))
	for i, e := range evs {
		batch[i] = projections.Envelope{Event: e, Source: topic, Partition: 0, Offset: f.offset}
		f.offset++
	}
	if err := f.proj.Apply(context.Background(), batch); err != nil {
		f.t.Fatalf("Apply: %v", err)
	}
}

func coord(vals ...float64) domain.Coordinate { return domain.MustCoordinate(vals...) }

func keysOf(cs []domain.Coordinate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Key()
	}
	return out
}
