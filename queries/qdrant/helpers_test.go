package qdrant

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	qc "github.com/qdrant/go-client/qdrant"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/qdrantfake"
	"github.com/somafractalmemory/soma/projections"
	projqdrant "github.com/somafractalmemory/soma/projections/qdrant"
	"github.com/somafractalmemory/soma/queries"
)

const (
	source = "memory.events"
	model  = "test/4"
	dim    = 4
)

// fixture is a Qdrant read model filled by the projection, and the index
// reading it.
type fixture struct {
	t      *testing.T
	client *qc.Client
	cfg    projqdrant.Config
	proj   *projqdrant.Projection
	ix     *Index
	n      int   // events built
	offset int64 // next log offset (partition 0)
}

// eachBackend runs fn against the double and, when configured, a real
// Qdrant, with a fresh serving name deleted at the end.
func eachBackend(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Helper()
	for _, b := range qdrantfake.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			client := b.Client(t)
			cfg := projqdrant.Config{Collection: qdrantfake.UniqueName(t, "somaq"), Dim: dim}
			t.Cleanup(func() {
				ctx := context.Background()
				names, _ := client.ListCollections(ctx)
				for _, n := range names {
					if strings.HasPrefix(n, cfg.Collection) {
						_ = client.DeleteCollection(ctx, n)
					}
				}
			})
			proj, err := projqdrant.New(context.Background(), client, cfg)
			if err != nil {
				t.Fatalf("projection: %v", err)
			}
			fn(t, &fixture{t: t, client: client, cfg: cfg, proj: proj, ix: New(client, proj.Alias(), model)})
		})
	}
}

func (f *fixture) meta(ns string) domain.EventMeta {
	f.n++
	return domain.EventMeta{
		EventID:    uuid.NewString(),
		Namespace:  ns,
		OccurredAt: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(f.n) * time.Second),
		Actor:      "test",
	}
}

// mem describes a memory to store.
type mem struct {
	ns      string
	coord   domain.Coordinate
	payload string // JSON object; "{}" when empty
	cos     float64
	norm    float64
	typ     domain.MemoryType
	model   string
	vec     []float32 // overrides cos
}

// unit returns a unit vector whose cosine with query() is cos.
func unit(cos float64) []float32 {
	return []float32{float32(cos), float32(math.Sqrt(max(0, 1-cos*cos))), 0, 0}
}

func query() []float32 { return []float32{1, 0, 0, 0} }

func (f *fixture) storedEvent(m mem) domain.MemoryStored {
	if m.payload == "" {
		m.payload = "{}"
	}
	if m.typ == "" {
		m.typ = domain.Episodic
	}
	if m.model == "" {
		m.model = model
	}
	if m.vec == nil {
		m.vec = unit(m.cos)
	}
	return domain.MemoryStored{
		EventMeta:      f.meta(m.ns),
		Coordinate:     m.coord,
		Payload:        json.RawMessage(m.payload),
		Type:           m.typ,
		ImportanceNorm: m.norm,
		Embedding:      m.vec,
		EmbeddingModel: m.model,
	}
}

// apply runs the projection over events, as the projector would.
func (f *fixture) apply(evs ...domain.Event) {
	f.t.Helper()
	batch := make([]projections.Envelope, len(evs))
	for i, e := range evs {
		batch[i] = projections.Envelope{Event: e, Source: source, Partition: 0, Offset: f.offset}
		f.offset++
	}
	if err := f.proj.Apply(context.Background(), batch); err != nil {
		f.t.Fatalf("Apply: %v", err)
	}
}

func (f *fixture) store(ms ...mem) {
	f.t.Helper()
	evs := make([]domain.Event, len(ms))
	for i, m := range ms {
		evs[i] = f.storedEvent(m)
	}
	f.apply(evs...)
}

func (f *fixture) search(q queries.VectorQuery) []queries.Hit {
	f.t.Helper()
	hits, err := f.ix.Search(context.Background(), q)
	if err != nil {
		f.t.Fatalf("Search(%+v): %v", q, err)
	}
	return hits
}

func vq(ns string, k int) queries.VectorQuery {
	return queries.VectorQuery{Namespace: ns, Vector: query(), EmbeddingModel: model, TopK: k}
}

func coord(vals ...float64) domain.Coordinate { return domain.MustCoordinate(vals...) }

func keys(hits []queries.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Coordinate.Key()
	}
	return out
}
