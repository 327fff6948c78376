package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/internal/embedding"
)

// memSink records appended events; it stands in for the log in unit tests
// (component tests use real Kafka).
type memSink struct {
	mu      sync.Mutex
	batches [][]domain.Event
	fail    error
}

func (s *memSink) Append(_ context.Context, events []domain.Event) (consistency.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return consistency.Token{}, s.fail
	}
	s.batches = append(s.batches, events)
	tok := consistency.Token{Source: "test"}
	tok.Add(0, int64(len(s.batches)))
	return tok, nil
}

func (s *memSink) events() []domain.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []domain.Event
	for _, b := range s.batches {
		out = append(out, b...)
	}
	return out
}

type mapDirectory map[string]bool

func (d mapDirectory) Existing(_ context.Context, ns string, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, k := range keys {
		out[k] = d[ns+"/"+k]
	}
	return out, nil
}

type countingEmbedder struct {
	embedding.Embedder
	calls int
}

func (c *countingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	c.calls++
	return c.Embedder.Embed(ctx, texts)
}

type fixture struct {
	app  *commands.Application
	sink *memSink
	emb  *countingEmbedder
}

func newFixture(dir mapDirectory) fixture {
	sink := &memSink{}
	emb := &countingEmbedder{Embedder: embedding.NewHashing(16)}
	n := 0
	app := commands.NewApplication(commands.Deps{
		Sink: sink, Directory: dir, Embedder: emb,
		Now:   func() time.Time { return time.Unix(1700000000, 500000000) },
		NewID: func() string { n++; return fmt.Sprintf("00000000-0000-7000-8000-%012d", n) },
	})
	return fixture{app: app, sink: sink, emb: emb}
}

var caller = commands.Caller{Namespace: "ns1", Actor: "tester"}

func payload(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func fieldsOf(err error) []string {
	var ve domain.ValidationErrors
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, v := range ve {
		out = append(out, v.Field)
	}
	return out
}

func TestStore(t *testing.T) {
	t.Run("publishes_one_memory_stored_event", func(t *testing.T) {
		f := newFixture(nil)
		acc, err := f.app.Store.Handle(context.Background(), commands.StoreMemory{Caller: caller, StoreItem: commands.StoreItem{
			Coordinate: domain.MustCoordinate(1, 2), Payload: payload(t, `{"text":"hello world","importance":3}`)}})
		if err != nil {
			t.Fatal(err)
		}
		evs := f.sink.events()
		if len(evs) != 1 || len(acc.EventIDs) != 1 || acc.Token.IsZero() {
			t.Fatalf("events %v accepted %+v", evs, acc)
		}
		e := evs[0].(domain.MemoryStored)
		if e.Namespace != "ns1" || e.Actor != "tester" || e.Coordinate.Key() != "1,2" || e.Type != domain.Episodic || e.EmbeddingModel != "hash-v1/16" || len(e.Embedding) != 16 {
			t.Fatalf("event %+v", e)
		}
		if e.Importance == nil || *e.Importance != 3 || e.ImportanceNorm != 0.5 {
			t.Fatalf("importance %v norm %v (first sample of a namespace normalises to 0.5)", e.Importance, e.ImportanceNorm)
		}
		var p map[string]any
		_ = json.Unmarshal(e.Payload, &p)
		if p["timestamp"] != 1700000000.5 || p["text"] != "hello world" {
			t.Fatalf("payload %s", e.Payload)
		}
	})
	t.Run("embeds_text_not_timestamp", func(t *testing.T) {
		f := newFixture(nil)
		for i, ts := range []string{"1", "2"} {
			_, err := f.app.Store.Handle(context.Background(), commands.StoreMemory{Caller: caller, StoreItem: commands.StoreItem{
				Coordinate: domain.MustCoordinate(float64(i)), Payload: payload(t, `{"text":"same","timestamp":`+ts+`}`)}})
			if err != nil {
				t.Fatal(err)
			}
		}
		evs := f.sink.events()
		a, b := evs[0].(domain.MemoryStored).Embedding, evs[1].(domain.MemoryStored).Embedding
		for i := range a {
			if a[i] != b[i] {
				t.Fatal("vectors differ although only the timestamp differs")
			}
		}
	})
	t.Run("rejects_non_numeric_importance", func(t *testing.T) {
		f := newFixture(nil)
		_, err := f.app.Store.Handle(context.Background(), commands.StoreMemory{Caller: caller, StoreItem: commands.StoreItem{
			Coordinate: domain.MustCoordinate(1), Payload: payload(t, `{"importance":"high"}`)}})
		if got := fieldsOf(err); len(got) != 1 || got[0] != "payload.importance" {
			t.Fatalf("got %v (%v)", got, err)
		}
		if len(f.sink.events()) != 0 {
			t.Fatal("published despite validation error")
		}
	})
	t.Run("validates_client_embedding", func(t *testing.T) {
		f := newFixture(nil)
		_, err := f.app.Store.Handle(context.Background(), commands.StoreMemory{Caller: caller, StoreItem: commands.StoreItem{
			Coordinate: domain.MustCoordinate(1), Payload: map[string]any{}, Embedding: []float32{1, 2}}})
		if !errors.Is(err, embedding.ErrInvalidVector) {
			t.Fatalf("got %v", err)
		}
		v := make([]float32, 16)
		v[3] = 2
		if _, err := f.app.Store.Handle(context.Background(), commands.StoreMemory{Caller: caller, StoreItem: commands.StoreItem{
			Coordinate: domain.MustCoordinate(1), Payload: map[string]any{}, Embedding: v}}); err != nil {
			t.Fatal(err)
		}
		e := f.sink.events()[0].(domain.MemoryStored)
		if e.Embedding[3] != 1 || f.emb.calls != 0 {
			t.Fatalf("client vector must be normalised and not re-embedded: %v calls=%d", e.Embedding, f.emb.calls)
		}
	})
	t.Run("log_outage_is_unavailable", func(t *testing.T) {
		f := newFixture(nil)
		f.sink.fail = fmt.Errorf("%w: broker down", commands.ErrUnavailable)
		_, err := f.app.Store.Handle(context.Background(), commands.StoreMemory{Caller: caller, StoreItem: commands.StoreItem{
			Coordinate: domain.MustCoordinate(1), Payload: map[string]any{}}})
		if !errors.Is(err, commands.ErrUnavailable) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestRememberGeneratesCoordinate(t *testing.T) {
	f := newFixture(nil)
	res, err := f.app.Remember.Handle(context.Background(), commands.Remember{Caller: caller, StoreItem: commands.StoreItem{Payload: map[string]any{"text": "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Coordinate.Dims() != 2 || res.Coordinate.At(0) != 1700000000.5 || res.Coordinate.At(1) < 0 || res.Coordinate.At(1) >= 1 {
		t.Fatalf("coordinate %v", res.Coordinate)
	}
}

func TestStoreBulk(t *testing.T) {
	items := func(t *testing.T, n int) []commands.StoreItem {
		var out []commands.StoreItem
		for i := 0; i < n; i++ {
			out = append(out, commands.StoreItem{Coordinate: domain.MustCoordinate(float64(i)), Payload: payload(t, fmt.Sprintf(`{"text":"item %d"}`, i))})
		}
		return out
	}
	t.Run("one_append_one_embed_call", func(t *testing.T) {
		f := newFixture(nil)
		acc, err := f.app.StoreBulk.Handle(context.Background(), commands.StoreBulk{Caller: caller, Items: items(t, 50)})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.sink.batches) != 1 || len(f.sink.batches[0]) != 50 || f.emb.calls != 1 || len(acc.EventIDs) != 50 {
			t.Fatalf("batches=%d calls=%d ids=%d", len(f.sink.batches), f.emb.calls, len(acc.EventIDs))
		}
	})
	t.Run("one_bad_item_rejects_the_batch", func(t *testing.T) {
		f := newFixture(nil)
		its := items(t, 5)
		its[3].Payload = nil
		its[4].Payload = payload(t, `{"importance":true}`)
		_, err := f.app.StoreBulk.Handle(context.Background(), commands.StoreBulk{Caller: caller, Items: its})
		got := fieldsOf(err)
		if len(got) != 2 || got[0] != "items[3].payload" || got[1] != "items[4].payload.importance" {
			t.Fatalf("got %v", got)
		}
		if len(f.sink.events()) != 0 || f.emb.calls != 0 {
			t.Fatal("nothing may be embedded or published")
		}
	})
	t.Run("rejects_too_many_items", func(t *testing.T) {
		f := newFixture(nil)
		_, err := f.app.StoreBulk.Handle(context.Background(), commands.StoreBulk{Caller: caller, Items: make([]commands.StoreItem, commands.MaxBulkItems+1)})
		if got := fieldsOf(err); len(got) != 1 || got[0] != "items" {
			t.Fatalf("got %v", err)
		}
	})
}

func TestLink(t *testing.T) {
	link := func(from, to domain.Coordinate) commands.LinkMemories {
		return commands.LinkMemories{Caller: caller, LinkMemories: domain.LinkMemories{From: from, To: to, Type: "related", Weight: 1}}
	}
	t.Run("refuses_link_from_missing_memory", func(t *testing.T) {
		f := newFixture(mapDirectory{})
		_, err := f.app.Link.Handle(context.Background(), link(domain.MustCoordinate(1), domain.MustCoordinate(2)))
		if !errors.Is(err, domain.ErrMemoryNotFound) || len(f.sink.events()) != 0 {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("links_from_memory_known_to_directory", func(t *testing.T) {
		f := newFixture(mapDirectory{"ns1/1": true})
		if _, err := f.app.Link.Handle(context.Background(), link(domain.MustCoordinate(1), domain.MustCoordinate(9))); err != nil {
			t.Fatal(err)
		}
		e := f.sink.events()[0].(domain.MemoriesLinked)
		if e.From.Key() != "1" || e.To.Key() != "9" || e.Weight != 1 || e.LinkType != "related" {
			t.Fatalf("%+v", e)
		}
	})
	t.Run("store_then_link_at_once_uses_own_recent_writes", func(t *testing.T) {
		f := newFixture(mapDirectory{})
		if _, err := f.app.Store.Handle(context.Background(), commands.StoreMemory{Caller: caller, StoreItem: commands.StoreItem{Coordinate: domain.MustCoordinate(5), Payload: map[string]any{}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.app.Link.Handle(context.Background(), link(domain.MustCoordinate(5), domain.MustCoordinate(6))); err != nil {
			t.Fatal(err)
		}
		if _, err := f.app.Delete.Handle(context.Background(), commands.DeleteMemory{Caller: caller, Coordinate: domain.MustCoordinate(5)}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.app.Link.Handle(context.Background(), link(domain.MustCoordinate(5), domain.MustCoordinate(6))); !errors.Is(err, domain.ErrMemoryNotFound) {
			t.Fatalf("link after own delete: %v", err)
		}
	})
	t.Run("rejects_negative_weight", func(t *testing.T) {
		f := newFixture(mapDirectory{"ns1/1": true})
		cmd := link(domain.MustCoordinate(1), domain.MustCoordinate(2))
		cmd.Weight = -1
		_, err := f.app.Link.Handle(context.Background(), cmd)
		if got := fieldsOf(err); len(got) != 1 || got[0] != "weight" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("namespaces_are_isolated", func(t *testing.T) {
		f := newFixture(mapDirectory{"other/1": true})
		_, err := f.app.Link.Handle(context.Background(), link(domain.MustCoordinate(1), domain.MustCoordinate(2)))
		if !errors.Is(err, domain.ErrMemoryNotFound) {
			t.Fatalf("a memory of another namespace must not count: %v", err)
		}
	})
}

func TestDeleteMany(t *testing.T) {
	f := newFixture(mapDirectory{"ns1/1": true, "ns1/3": true})
	res, err := f.app.DeleteMany.Handle(context.Background(), commands.DeleteMany{Caller: caller, Coordinates: []domain.Coordinate{
		domain.MustCoordinate(1), domain.MustCoordinate(2), domain.MustCoordinate(3), domain.MustCoordinate(1.0)}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Existed != 2 || len(f.sink.events()) != 3 {
		t.Fatalf("existed=%d events=%d (duplicates deleted once, unknown ones still deleted)", res.Existed, len(f.sink.events()))
	}
}

func TestSetImportance(t *testing.T) {
	f := newFixture(mapDirectory{"ns1/1": true})
	if _, err := f.app.SetImportance.Handle(context.Background(), commands.SetImportance{Caller: caller, Coordinate: domain.MustCoordinate(2), Importance: 1}); !errors.Is(err, domain.ErrMemoryNotFound) {
		t.Fatalf("got %v", err)
	}
	res, err := f.app.SetImportance.Handle(context.Background(), commands.SetImportance{Caller: caller, Coordinate: domain.MustCoordinate(1), Importance: 7})
	if err != nil {
		t.Fatal(err)
	}
	e := f.sink.events()[0].(domain.MemoryImportanceSet)
	if e.Importance != 7 || e.ImportanceNorm != res.ImportanceNorm {
		t.Fatalf("%+v", e)
	}
}

func TestImport(t *testing.T) {
	t.Run("reports_malformed_lines_by_number", func(t *testing.T) {
		f := newFixture(mapDirectory{})
		body := `{"coordinate":[1],"text":"a","memory_type":"semantic"}

not json
{"text":"no coordinate"}
{"coordinate":[2],"text":"b"}
`
		_, err := f.app.Import.Handle(context.Background(), commands.ImportMemories{Caller: caller, Body: strings.NewReader(body), Replace: true})
		got := fieldsOf(err)
		if len(got) != 2 || got[0] != "line 3" || got[1] != "line 4" {
			t.Fatalf("got %v (%v)", got, err)
		}
		if len(f.sink.events()) != 0 {
			t.Fatal("nothing may be published")
		}
	})
	t.Run("bad_payload_after_the_first_chunk_publishes_nothing", func(t *testing.T) {
		f := newFixture(mapDirectory{})
		var b strings.Builder
		for i := range 1500 {
			fmt.Fprintf(&b, "{\"coordinate\":[%d],\"text\":\"r%d\"}\n", i, i)
		}
		b.WriteString(`{"coordinate":[9999],"importance":"high"}` + "\n")
		_, err := f.app.Import.Handle(context.Background(), commands.ImportMemories{Caller: caller, Body: strings.NewReader(b.String()), Replace: true})
		if got := fieldsOf(err); len(got) != 1 || got[0] != "line[1501].payload.importance" {
			t.Fatalf("got %v (%v)", got, err)
		}
		if n := len(f.sink.events()); n != 0 {
			t.Fatalf("%d events published", n)
		}
	})
	t.Run("recreates_links_after_records", func(t *testing.T) {
		f := newFixture(mapDirectory{"ns1/7": true})
		body := `{"coordinate":[1],"text":"a"}
{"link":{"from":[1],"to":[2],"type":"cause","weight":0.5,"timestamp":12}}
{"coordinate":[2],"text":"b"}
{"link":{"from":[7],"to":[1]}}`
		res, err := f.app.Import.Handle(context.Background(), commands.ImportMemories{Caller: caller, Body: strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Imported != 2 || res.Linked != 2 {
			t.Fatalf("%+v", res)
		}
		evs := f.sink.events()
		if len(evs) != 4 {
			t.Fatalf("%d events", len(evs))
		}
		l1, ok1 := evs[2].(domain.MemoriesLinked)
		l2, ok2 := evs[3].(domain.MemoriesLinked)
		if !ok1 || !ok2 || l1.From.Key() != "1" || l1.To.Key() != "2" || l1.LinkType != "cause" || l1.Weight != 0.5 ||
			l2.From.Key() != "7" || l2.LinkType != domain.DefaultLinkType || l2.Weight != domain.DefaultLinkWeight {
			t.Fatalf("links %+v %+v", evs[2], evs[3])
		}
	})
	t.Run("rejects_link_without_source_and_bad_link_lines", func(t *testing.T) {
		f := newFixture(mapDirectory{})
		body := `{"coordinate":[1],"text":"a"}
{"link":{"from":[5],"to":[1]}}
{"link":{"from":[1],"to":[2],"weight":-1}}`
		_, err := f.app.Import.Handle(context.Background(), commands.ImportMemories{Caller: caller, Body: strings.NewReader(body), Replace: true})
		if got := fieldsOf(err); len(got) != 2 || got[0] != "line 2" || got[1] != "line 3" {
			t.Fatalf("got %v (%v)", got, err)
		}
		_, err = f.app.Import.Handle(context.Background(), commands.ImportMemories{Caller: caller, Body: strings.NewReader(`{"link":{"from":[1]}}`), Replace: true})
		if got := fieldsOf(err); len(got) != 1 || got[0] != "line 1" {
			t.Fatalf("got %v (%v)", got, err)
		}
		if len(f.sink.events()) != 0 {
			t.Fatal("nothing may be published")
		}
	})
	t.Run("imports_records_and_skips_existing_unless_replace", func(t *testing.T) {
		f := newFixture(mapDirectory{"ns1/2": true})
		body := `{"coordinate":[1],"text":"a","memory_type":"semantic","importance_norm":0.9,"timestamp":12}
{"coordinate":[2],"text":"b"}`
		res, err := f.app.Import.Handle(context.Background(), commands.ImportMemories{Caller: caller, Body: strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Imported != 1 || res.Skipped != 1 {
			t.Fatalf("%+v", res)
		}
		e := f.sink.events()[0].(domain.MemoryStored)
		var p map[string]any
		_ = json.Unmarshal(e.Payload, &p)
		if e.Type != domain.Semantic || p["timestamp"] != float64(12) || p["importance_norm"] != nil || p["coordinate"] != nil {
			t.Fatalf("event %+v payload %s", e, e.Payload)
		}
	})
}
