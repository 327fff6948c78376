package qdrant

import (
	"context"
	"maps"
	"testing"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/projections"
	projqdrant "github.com/somafractalmemory/soma/projections/qdrant"
)

func TestPositions(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, f *fixture) {
		t.Run("nothing_applied_reads_empty", func(t *testing.T) {
			got, err := f.ix.Positions(ctx, source)
			if err != nil || len(got) != 0 {
				t.Fatalf("Positions = %v, %v; want empty", got, err)
			}
			missing := New(f.client, f.cfg.Collection+"_missing", model)
			got, err = missing.Positions(ctx, source)
			if err != nil || len(got) != 0 {
				t.Fatalf("Positions of a missing index = %v, %v; want empty", got, err)
			}
		})

		t.Run("reads_the_applied_offsets", func(t *testing.T) {
			e1 := f.storedEvent(mem{ns: "pos", coord: coord(1), cos: 1, norm: 1})
			e2 := f.storedEvent(mem{ns: "pos", coord: coord(2), cos: 1, norm: 1})
			err := f.proj.Apply(ctx, []projections.Envelope{
				{Event: e1, Source: source, Partition: 0, Offset: 41},
				{Event: e2, Source: source, Partition: 3, Offset: 7},
				{Event: domain.MemoryDeleted{EventMeta: f.meta("pos"), Coordinate: coord(9)}, Source: "other", Partition: 0, Offset: 5},
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.ix.Positions(ctx, source)
			if want := map[int32]int64{0: 41, 3: 7}; err != nil || !maps.Equal(got, want) {
				t.Fatalf("Positions = %v, %v; want %v", got, err, want)
			}
			got, err = f.ix.Positions(ctx, "other")
			if want := map[int32]int64{0: 5}; err != nil || !maps.Equal(got, want) {
				t.Fatalf("Positions(other) = %v, %v; want %v", got, err, want)
			}
		})

		t.Run("follows_the_alias_to_a_promoted_generation", func(t *testing.T) {
			cfg := f.cfg
			cfg.Generation = f.cfg.Collection + "_g2"
			next, err := projqdrant.New(ctx, f.client, cfg)
			if err != nil {
				t.Fatal(err)
			}
			e := f.storedEvent(mem{ns: "pos", coord: coord(1), cos: 1, norm: 1})
			if err := next.Apply(ctx, []projections.Envelope{{Event: e, Source: source, Partition: 0, Offset: 3}}); err != nil {
				t.Fatal(err)
			}
			if got, _ := f.ix.Positions(ctx, source); got[0] != 41 {
				t.Fatalf("before promotion: %v, want the serving generation's {0:41 ...}", got)
			}
			if err := next.Promote(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := f.ix.Positions(ctx, source)
			if want := map[int32]int64{0: 3}; err != nil || !maps.Equal(got, want) {
				t.Fatalf("after promotion: %v, %v; want %v", got, err, want)
			}
		})
	})
}
