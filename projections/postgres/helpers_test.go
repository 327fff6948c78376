package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/testenv"
	"github.com/somafractalmemory/soma/projections/postgres"
)

// jsonEncoder is the EventEncoder of the tests: the event name and the
// event as JSON.
type jsonEncoder struct{}

func (jsonEncoder) EncodeBody(e domain.Event) ([]byte, error) {
	return json.Marshal(struct {
		Type  string       `json:"type"`
		Event domain.Event `json:"event"`
	}{e.EventName(), e})
}

// DecodeBody reads back what EncodeBody wrote.
func (jsonEncoder) DecodeBody(b []byte) (domain.Event, error) {
	var env struct {
		Type  string          `json:"type"`
		Event json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, err
	}
	decode := func(p any) (domain.Event, error) {
		if err := json.Unmarshal(env.Event, p); err != nil {
			return nil, err
		}
		return reflect.ValueOf(p).Elem().Interface().(domain.Event), nil
	}
	switch env.Type {
	case domain.EventMemoryStored:
		return decode(&domain.MemoryStored{})
	case domain.EventMemoryDeleted:
		return decode(&domain.MemoryDeleted{})
	case domain.EventMemoriesLinked:
		return decode(&domain.MemoriesLinked{})
	case domain.EventMemoryUnlinked:
		return decode(&domain.MemoryUnlinked{})
	case domain.EventMemoryImportanceSet:
		return decode(&domain.MemoryImportanceSet{})
	}
	return nil, fmt.Errorf("unknown event type %q", env.Type)
}

// testPool connects to the test server (skipping or failing as testenv
// says) and closes the pool at the end of the test.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := testenv.PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
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
	schema := "soma_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := postgres.Migrate(ctx, pool, schema); err != nil {
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

// newProjection is a projection over a fresh schema.
func newProjection(t testing.TB) (*postgres.Projection, *pgxpool.Pool) {
	t.Helper()
	pool := testPool(t)
	p := postgres.New(pool, postgres.Config{Schema: freshSchema(t, pool), Encoder: jsonEncoder{}, Decoder: jsonEncoder{}})
	return p, pool
}
