package direct_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/testenv"
	"github.com/somafractalmemory/soma/projections/direct"
	pgproj "github.com/somafractalmemory/soma/projections/postgres"
	"github.com/somafractalmemory/soma/schemas"
)

type body struct{ c *schemas.Codec }

func (b body) EncodeBody(e domain.Event) ([]byte, error) { return b.c.Encode(e) }
func (b body) DecodeBody(p []byte) (domain.Event, error) { return b.c.Decode(p) }

func meta(ns string) domain.EventMeta {
	return domain.EventMeta{EventID: uuid.NewString(), Namespace: ns, OccurredAt: time.Now().UTC()}
}

// TestGroupCommit: concurrent appends share commits, each stays atomic and
// gets its own positions, and a refused event fails only its own append.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	schema := "dir_" + uuid.NewString()[:8]
	if err := pgproj.Migrate(ctx, pool, schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE") })
	cat, _ := schemas.BuiltinCatalog()
	src, _ := schemas.NewLocalSource(cat)
	codec, _ := schemas.NewCodec(cat, src)
	proj := pgproj.New(pool, pgproj.Config{Schema: schema, Encoder: body{codec}, Decoder: body{codec}})
	sink := direct.New(proj, nil, 10*time.Second, nil)
	t.Cleanup(sink.Close)

	const n = 64
	var wg sync.WaitGroup
	offsets := make([][]int64, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var evs []domain.Event
			for j := 0; j < 1+i%3; j++ {
				evs = append(evs, domain.MemoryStored{EventMeta: meta("g"), Coordinate: domain.MustCoordinate(float64(i), float64(j)),
					Payload: []byte(`{"x":1}`), Type: domain.Episodic, ImportanceNorm: 0.5, Embedding: []float32{1, 0}, EmbeddingModel: "m/2"})
			}
			if i == 13 {
				// A link weight no read model accepts: only this append fails.
				evs = append(evs, domain.MemoriesLinked{EventMeta: meta("g"), From: domain.MustCoordinate(13, 0), To: domain.MustCoordinate(1), LinkType: "x", Weight: -1})
			}
			tok, err := sink.Append(ctx, evs)
			errs[i] = err
			if err == nil {
				if len(tok.Positions) != 1 {
					errs[i] = fmt.Errorf("token %+v", tok)
				}
				offsets[i] = []int64{tok.Positions[0]}
			}
		}(i)
	}
	wg.Wait()
	seen := map[int64]bool{}
	for i, err := range errs {
		if i == 13 {
			if err == nil || errors.Is(err, commands.ErrUnavailable) {
				t.Fatalf("append with the refused event: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if seen[offsets[i][0]] {
			t.Fatalf("two appends end at the same position %d", offsets[i][0])
		}
		seen[offsets[i][0]] = true
	}
	total, _, _, err := proj.Counts(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	// appends i%3==0 → 1 event, 1 → 2, 2 → 3; the refused one (13: 2
	// stores) wrote nothing.
	want := int64(0)
	for i := 0; i < n; i++ {
		if i != 13 {
			want += int64(1 + i%3)
		}
	}
	if total != want {
		t.Fatalf("%d memories, want %d", total, want)
	}
}
