package policies_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/commands/policies"
	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/embedding"
	"github.com/somafractalmemory/soma/internal/testenv"
	"github.com/somafractalmemory/soma/projections/direct"
	pgproj "github.com/somafractalmemory/soma/projections/postgres"
	"github.com/somafractalmemory/soma/schemas"
)

type body struct{ c *schemas.Codec }

func (b body) EncodeBody(e domain.Event) ([]byte, error) { return b.c.Encode(e) }
func (b body) DecodeBody(p []byte) (domain.Event, error) { return b.c.Decode(p) }

// The policies run over the real write path of direct mode: commands →
// Postgres event_log and read model.
func setup(t *testing.T) (*commands.Application, *pgproj.Projection, *policies.Postgres) {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	schema := "pol_" + uuid.NewString()[:8]
	if err := pgproj.Migrate(ctx, pool, schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE") })
	cat, _ := schemas.BuiltinCatalog()
	src, _ := schemas.NewLocalSource(cat)
	codec, _ := schemas.NewCodec(cat, src)
	proj := pgproj.New(pool, pgproj.Config{Schema: schema, Encoder: body{codec}, Decoder: body{codec}})
	app := commands.NewApplication(commands.Deps{Sink: direct.New(proj, nil, 0, nil), Directory: existing{proj}, Embedder: embedding.NewHashing(16)})
	return app, proj, policies.NewPostgres(pool, schema)
}

type existing struct{ p *pgproj.Projection }

func (e existing) Existing(ctx context.Context, ns string, keys []string) (map[string]bool, error) {
	return e.p.Exists(ctx, ns, keys)
}

func TestEvictionDeletesLowestImportanceThenOldest(t *testing.T) {
	app, proj, reader := setup(t)
	ctx := context.Background()
	ns := "ev"
	for i := 0; i < 12; i++ {
		imp := 10 + i
		if i == 5 || i == 7 {
			imp = 1 // the two least important
		}
		if _, err := app.Store.Handle(ctx, commands.StoreMemory{Caller: commands.Caller{Namespace: ns}, StoreItem: commands.StoreItem{
			Coordinate: domain.MustCoordinate(float64(i)), Payload: map[string]any{"text": fmt.Sprint("memory ", i), "importance": imp}}}); err != nil {
			t.Fatal(err)
		}
	}
	// Another namespace under the limit is left alone.
	if _, err := app.Store.Handle(ctx, commands.StoreMemory{Caller: commands.Caller{Namespace: "small"}, StoreItem: commands.StoreItem{
		Coordinate: domain.MustCoordinate(1), Payload: map[string]any{"text": "x"}}}); err != nil {
		t.Fatal(err)
	}
	r := policies.New(reader, app, policies.Config{MaxMemorySize: 10}, nil)
	n, err := r.Evict(ctx)
	if err != nil || n != 2 {
		t.Fatalf("evicted %d, %v; want 2", n, err)
	}
	total, _, _, _ := proj.Counts(ctx, ns)
	if total != 10 {
		t.Fatalf("namespace holds %d memories, want 10", total)
	}
	found, _ := proj.Exists(ctx, ns, []string{"5", "7", "0"})
	if found["5"] || found["7"] || !found["0"] {
		t.Fatalf("wrong memories evicted: %v", found)
	}
	if n, _ := r.Evict(ctx); n != 0 {
		t.Fatalf("second pass evicted %d", n)
	}
}

func TestDecayRemovesKeysOfOldMemoriesOnly(t *testing.T) {
	app, proj, reader := setup(t)
	ctx := context.Background()
	for i, p := range []map[string]any{
		{"text": "a", "scratch": "x", "keep": 1},
		{"text": "b", "keep": 2},
	} {
		if _, err := app.Store.Handle(ctx, commands.StoreMemory{Caller: commands.Caller{Namespace: "d"}, StoreItem: commands.StoreItem{
			Coordinate: domain.MustCoordinate(float64(i)), Payload: p}}); err != nil {
			t.Fatal(err)
		}
	}
	// A negative age puts the threshold in the future: every memory is old
	// enough, without waiting for the clock.
	r := policies.New(reader, app, policies.Config{DecayEnabled: true, Rules: []policies.Rule{{Age: -time.Hour, Keys: []string{"scratch"}}}}, nil)
	n, err := r.Decay(ctx)
	if err != nil || n != 1 {
		t.Fatalf("decayed %d, %v; want 1 (only the memory that has the key)", n, err)
	}
	m, ok, err := proj.Get(ctx, "d", domain.MustCoordinate(0))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, has := m.Payload["scratch"]; has || m.Payload["keep"] == nil || m.Payload["timestamp"] == nil {
		t.Fatalf("payload after decay %v", m.Payload)
	}
	if n, _ := r.Decay(ctx); n != 0 {
		t.Fatalf("second pass decayed %d", n)
	}
}
