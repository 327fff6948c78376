package policies_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/commands/policies"
	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/embedding"
	"github.com/somafractalmemory/soma/projections/embedded"
)

// The same policies over the embedded store (the default of make run).
func TestPoliciesOnTheEmbeddedStore(t *testing.T) {
	ctx := context.Background()
	emb := embedding.NewHashing(16)
	bodies, err := embedded.NewLocalBodies()
	if err != nil {
		t.Fatal(err)
	}
	store, err := embedded.Open(ctx, embedded.Config{Dir: t.TempDir(), Encoder: bodies, Decoder: bodies, EmbeddingModel: emb.Model()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	app := commands.NewApplication(commands.Deps{Sink: store, Directory: store, Embedder: emb})
	for i := 0; i < 12; i++ {
		imp := 10 + i
		if i == 2 || i == 9 {
			imp = 0
		}
		p := map[string]any{"text": fmt.Sprint("memory ", i), "importance": imp}
		if i == 4 {
			p["scratch"] = "temporary"
		}
		if _, err := app.Store.Handle(ctx, commands.StoreMemory{Caller: commands.Caller{Namespace: "e"}, StoreItem: commands.StoreItem{
			Coordinate: domain.MustCoordinate(float64(i)), Payload: p}}); err != nil {
			t.Fatal(err)
		}
	}
	r := policies.New(store, app, policies.Config{MaxMemorySize: 10, DecayEnabled: true,
		Rules: []policies.Rule{{Age: -time.Hour, Keys: []string{"scratch"}}}}, nil)
	if n, err := r.Evict(ctx); err != nil || n != 2 {
		t.Fatalf("evicted %d, %v", n, err)
	}
	found, _ := store.Existing(ctx, "e", []string{"2", "9", "0"})
	if found["2"] || found["9"] || !found["0"] {
		t.Fatalf("wrong memories evicted: %v", found)
	}
	if n, err := r.Decay(ctx); err != nil || n != 1 {
		t.Fatalf("decayed %d, %v", n, err)
	}
	m, ok, _ := store.Get(ctx, "e", domain.MustCoordinate(4))
	if !ok || m.Payload["scratch"] != nil || m.Payload["text"] != "memory 4" {
		t.Fatalf("after decay: %v %v", ok, m.Payload)
	}
}
