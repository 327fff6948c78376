package postgres_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/somafractalmemory/soma/domain"
	ppg "github.com/somafractalmemory/soma/projections/postgres"
	"github.com/somafractalmemory/soma/queries"
	"github.com/somafractalmemory/soma/queries/postgres"
	"github.com/somafractalmemory/soma/schemas"
)

// codec adapts the Avro codec (as cmd/soma does) for the projection and
// the history.
type codec struct{ c *schemas.Codec }

func (c codec) EncodeBody(e domain.Event) ([]byte, error) { return c.c.Encode(e) }
func (c codec) DecodeBody(b []byte) (domain.Event, error) { return c.c.Decode(b) }

func avroCodec(t *testing.T) codec {
	t.Helper()
	cat, err := schemas.BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	src, err := schemas.NewLocalSource(cat)
	if err != nil {
		t.Fatal(err)
	}
	c, err := schemas.NewCodec(cat, src)
	if err != nil {
		t.Fatal(err)
	}
	return codec{c}
}

func TestHistory(t *testing.T) {
	encodings := []struct {
		name string
		enc  ppg.EventEncoder
		dec  postgres.EventDecoder
	}{
		{"json_as_the_projection_tests", jsonEncoder{}, jsonDecoder{}},
		{"avro_as_in_production", avroCodec(t), avroCodec(t)},
	}
	for _, e := range encodings {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t)
			f.proj = ppg.New(f.pool, ppg.Config{Schema: f.schema, Encoder: e.enc})
			h := postgres.NewHistory(f.pool, f.schema, e.dec)

			c, other := coord(1, 2), coord(3)
			imp := 4.0
			st := f.stored("ns", c, `{"text":"hello","n":1.5}`)
			st.Importance, st.ImportanceNorm, st.IdempotencyKey = &imp, 0.5, "idem-1"
			lk := f.link("ns", c, other, "cause", 2)
			is := domain.MemoryImportanceSet{EventMeta: f.meta("ns"), Coordinate: c, Importance: 9, ImportanceNorm: 1}
			ul := domain.MemoryUnlinked{EventMeta: f.meta("ns"), From: c, To: other}
			del := domain.MemoryDeleted{EventMeta: f.meta("ns"), Coordinate: c}
			f.apply(st, f.stored("ns", other, `{}`), lk, f.stored("elsewhere", c, `{}`))
			f.apply(is, ul, del)

			got, err := h.History(ctx, "ns", c, 100)
			if err != nil {
				t.Fatal(err)
			}
			want := []struct {
				ev     domain.Event
				offset int64
			}{{st, 0}, {lk, 2}, {is, 4}, {ul, 5}, {del, 6}}
			if len(got) != len(want) {
				t.Fatalf("%d entries, want %d: %+v", len(got), len(want), got)
			}
			for i, w := range want {
				g := got[i]
				m := w.ev.Metadata()
				if g.EventID != m.EventID || g.EventType != w.ev.EventName() || g.Source != topic || g.Partition != 0 ||
					g.Offset != w.offset || g.OccurredAt != m.OccurredAt.Format(time.RFC3339Nano) {
					t.Errorf("entry %d = %+v, want %s %s at offset %d", i, g, w.ev.EventName(), m.EventID, w.offset)
				}
				if g.Event["event_id"] != m.EventID || g.Event["namespace"] != "ns" || g.Event["actor"] != "test" {
					t.Errorf("entry %d fields = %v", i, g.Event)
				}
			}
			// The fields read as JSON, with the Avro field names.
			raw, err := json.Marshal(got[0].Event)
			if err != nil {
				t.Fatal(err)
			}
			var stored map[string]any
			if err := json.Unmarshal(raw, &stored); err != nil {
				t.Fatal(err)
			}
			wantStored := map[string]any{
				"event_id": st.EventID, "namespace": "ns", "occurred_at": st.OccurredAt.Format(time.RFC3339Nano),
				"idempotency_key": "idem-1", "actor": "test", "coordinate": []any{1.0, 2.0},
				"payload": map[string]any{"text": "hello", "n": 1.5}, "memory_type": "episodic",
				"importance": 4.0, "importance_norm": 0.5, "embedding_model": "test/2", "embedding_dim": 2.0,
			}
			if !reflect.DeepEqual(stored, wantStored) {
				t.Errorf("MemoryStored fields =\n%v\nwant\n%v", stored, wantStored)
			}
			if ev := got[1].Event; ev["link_type"] != "cause" || ev["weight"] != 2.0 || ev["idempotency_key"] != nil {
				t.Errorf("MemoriesLinked fields = %v", ev)
			}

			t.Run("limit_keeps_the_latest_oldest_first", func(t *testing.T) {
				got, err := h.History(ctx, "ns", c, 2)
				if err != nil || len(got) != 2 || got[0].EventID != ul.EventID || got[1].EventID != del.EventID {
					t.Fatalf("History(limit 2) = %+v, %v", got, err)
				}
			})
			t.Run("unknown_coordinate_has_none", func(t *testing.T) {
				got, err := h.History(ctx, "ns", coord(404), 10)
				if err != nil || got == nil || len(got) != 0 {
					t.Fatalf("History(404) = %v, %v", got, err)
				}
			})
		})
	}
}

func TestEventFields(t *testing.T) {
	if queries.EventFields(nil) != nil {
		t.Fatal("nil event has fields")
	}
	del := domain.MemoryDeleted{EventMeta: domain.EventMeta{EventID: "e", Namespace: "ns", OccurredAt: t0}, Coordinate: coord(1)}
	for _, ev := range []domain.Event{del, &del} {
		got := queries.EventFields(ev)
		if got["coordinate"] == nil || got["actor"] != nil || got["occurred_at"] != "2024-06-01T08:00:00Z" {
			t.Fatalf("fields of %T = %v", ev, got)
		}
	}
}
