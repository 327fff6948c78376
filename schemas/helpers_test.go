package schemas

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"reflect"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/testenv"
)

// testRegistryURL returns a real registry when SOMA_TEST_REGISTRY_URL is
// set, otherwise an in-process fake Confluent registry.
func testRegistryURL(t testing.TB) string {
	t.Helper()
	if u := testenv.Optional(testenv.RegistryURLVar); u != "" {
		return u
	}
	fake := srfake.New()
	t.Cleanup(fake.Close)
	return fake.URL()
}

// uniqueTopic keeps subjects of one test apart from every other test's
// (and run's) on a shared real registry.
func uniqueTopic() string {
	return "soma-test-" + uuid.NewString()
}

func newTestClient(t testing.TB, registryURL, topic string, cat *Catalog) *RegistryClient {
	t.Helper()
	rc, err := NewRegistryClient(RegistryConfig{URL: registryURL, Topic: topic, Timeout: 10 * time.Second, AutoRegister: true}, cat, nil)
	if err != nil {
		t.Fatalf("NewRegistryClient: %v", err)
	}
	return rc
}

// registeredCodec registers cat under topic and returns a codec over it.
func registeredCodec(t testing.TB, registryURL, topic string, cat *Catalog) (*Codec, *RegistryClient) {
	t.Helper()
	rc := newTestClient(t, registryURL, topic, cat)
	if err := rc.Prepare(context.Background()); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	codec, err := NewCodec(cat, rc)
	if err != nil {
		t.Fatalf("NewCodec: %v", err)
	}
	return codec, rc
}

func builtinCatalog(t testing.TB) *Catalog {
	t.Helper()
	cat, err := BuiltinCatalog()
	if err != nil {
		t.Fatalf("BuiltinCatalog: %v", err)
	}
	return cat
}

// catalogWithV2 is the builtin MemoryStored v1 plus a test-only v2.
func catalogWithV2(t testing.TB, v2File string) *Catalog {
	t.Helper()
	v1, err := builtin.ReadFile("avro/MemoryStored/v1.avsc")
	if err != nil {
		t.Fatal(err)
	}
	v2 := readFile(t, v2File)
	cat, err := NewCatalog(fstest.MapFS{
		"avro/MemoryStored/v1.avsc": {Data: v1},
		"avro/MemoryStored/v2.avsc": {Data: v2},
	})
	if err != nil {
		t.Fatalf("NewCatalog: %v", err)
	}
	return cat
}

func ptr[T any](v T) *T { return &v }

var testTime = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

func meta(id string) domain.EventMeta {
	return domain.EventMeta{
		EventID:        id,
		Namespace:      "agents/alpha",
		OccurredAt:     testTime,
		IdempotencyKey: "idem-42",
		Actor:          "token:ci",
	}
}

func embedding(n int) []float32 {
	e := make([]float32, n)
	for i := range e {
		e[i] = float32(math.Sin(float64(i))) / 20
	}
	return e
}

// sampleEvents covers every event type and the edge values of each field.
func sampleEvents() []struct {
	name  string
	event domain.Event
} {
	return []struct {
		name  string
		event domain.Event
	}{
		{"memory_stored_all_fields", domain.MemoryStored{
			EventMeta:      meta("3f2b8c1e-9d4a-4c5b-8e7f-0a1b2c3d4e5f"),
			Coordinate:     domain.MustCoordinate(1.5, -2, 3e10),
			Payload:        json.RawMessage(`{"task":"write tests","timestamp":"2025-03-14T15:09:26Z","nested":{"a":[1,2,3]},"unicode":"héllo ✓"}`),
			Type:           domain.Semantic,
			Importance:     ptr(7.25),
			ImportanceNorm: 0.8125,
			Embedding:      embedding(8),
			EmbeddingModel: "hash-v1/8",
		}},
		{"memory_stored_nil_importance_empty_coordinate_empty_payload", domain.MemoryStored{
			EventMeta:      domain.EventMeta{EventID: "00000000-0000-4000-8000-000000000000", Namespace: "", OccurredAt: testTime},
			Coordinate:     domain.Coordinate{},
			Payload:        json.RawMessage(`{}`),
			Type:           domain.Episodic,
			Importance:     nil,
			ImportanceNorm: 0.5,
			Embedding:      nil,
			EmbeddingModel: "",
		}},
		{"memory_stored_as_pointer", &domain.MemoryStored{
			EventMeta:      meta("6c1f9a52-3e3b-4f7e-9a55-5e0c3b7d1a20"),
			Coordinate:     domain.MustCoordinate(0),
			Payload:        json.RawMessage(`{"k":"v"}`),
			Type:           domain.Episodic,
			Importance:     ptr(0.0),
			ImportanceNorm: 0,
			Embedding:      embedding(384),
			EmbeddingModel: "hash-v1/384",
		}},
		{"memory_deleted", domain.MemoryDeleted{
			EventMeta:  meta("9b2f4a10-6d1e-4d8c-b1a3-7e5f6a4b3c2d"),
			Coordinate: domain.MustCoordinate(9, 8, 7),
		}},
		{"memory_deleted_empty_coordinate", domain.MemoryDeleted{
			EventMeta: meta("9b2f4a10-6d1e-4d8c-b1a3-7e5f6a4b3c2e"),
		}},
		{"memories_linked", domain.MemoriesLinked{
			EventMeta: meta("1d0e3c2b-5a49-4f38-8e27-d6c5b4a39281"),
			From:      domain.MustCoordinate(1, 2),
			To:        domain.MustCoordinate(3, 4, 5),
			LinkType:  "related",
			Weight:    0.75,
		}},
		{"memories_linked_empty_type_negative_weight", domain.MemoriesLinked{
			EventMeta: domain.EventMeta{EventID: "1d0e3c2b-5a49-4f38-8e27-d6c5b4a39282", Namespace: "n", OccurredAt: testTime},
			From:      domain.MustCoordinate(),
			To:        domain.MustCoordinate(-1e-300),
			Weight:    -2,
		}},
		{"memory_unlinked", domain.MemoryUnlinked{
			EventMeta: meta("e1d2c3b4-a596-4877-8695-a4b3c2d1e0f9"),
			From:      domain.MustCoordinate(1, 2),
			To:        domain.MustCoordinate(3, 4),
		}},
		{"memory_importance_set", domain.MemoryImportanceSet{
			EventMeta:      meta("5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"),
			Coordinate:     domain.MustCoordinate(42),
			Importance:     -3.5,
			ImportanceNorm: 0.125,
		}},
	}
}

// wantDecoded is what Decode must return for an encoded event: a value
// (not a pointer), time in UTC at microsecond precision.
func wantDecoded(e domain.Event) domain.Event {
	switch v := e.(type) {
	case *domain.MemoryStored:
		return wantDecoded(*v)
	case domain.MemoryStored:
		v.EventMeta.OccurredAt = v.OccurredAt.Truncate(time.Microsecond).UTC()
		return v
	case domain.MemoryDeleted:
		v.EventMeta.OccurredAt = v.OccurredAt.Truncate(time.Microsecond).UTC()
		return v
	case domain.MemoriesLinked:
		v.EventMeta.OccurredAt = v.OccurredAt.Truncate(time.Microsecond).UTC()
		return v
	case domain.MemoryUnlinked:
		v.EventMeta.OccurredAt = v.OccurredAt.Truncate(time.Microsecond).UTC()
		return v
	case domain.MemoryImportanceSet:
		v.EventMeta.OccurredAt = v.OccurredAt.Truncate(time.Microsecond).UTC()
		return v
	}
	return e
}

// assertSameEvent compares events field by field where the domain has its
// own notion of equality (coordinates; nil vs empty slices).
func assertSameEvent(t *testing.T, got, want domain.Event) {
	t.Helper()
	want = wantDecoded(want)
	if reflect.TypeOf(got) != reflect.TypeOf(want) {
		t.Fatalf("decoded %T, want %T", got, want)
	}
	if !reflect.DeepEqual(got.Metadata(), want.Metadata()) {
		t.Errorf("metadata:\n got %+v\nwant %+v", got.Metadata(), want.Metadata())
	}
	coords := func(e domain.Event) []domain.Coordinate {
		switch v := e.(type) {
		case domain.MemoriesLinked:
			return []domain.Coordinate{v.From, v.To}
		case domain.MemoryUnlinked:
			return []domain.Coordinate{v.From, v.To}
		}
		return []domain.Coordinate{e.Subject()}
	}
	gc, wc := coords(got), coords(want)
	for i := range wc {
		if !gc[i].Equal(wc[i]) {
			t.Errorf("coordinate %d: got %v, want %v", i, gc[i], wc[i])
		}
	}
	switch w := want.(type) {
	case domain.MemoryStored:
		g := got.(domain.MemoryStored)
		if string(g.Payload) != string(w.Payload) || g.Type != w.Type || g.ImportanceNorm != w.ImportanceNorm || g.EmbeddingModel != w.EmbeddingModel {
			t.Errorf("stored fields:\n got %q %q %v %q\nwant %q %q %v %q", g.Payload, g.Type, g.ImportanceNorm, g.EmbeddingModel, w.Payload, w.Type, w.ImportanceNorm, w.EmbeddingModel)
		}
		if (g.Importance == nil) != (w.Importance == nil) || (g.Importance != nil && *g.Importance != *w.Importance) {
			t.Errorf("importance: got %v, want %v", g.Importance, w.Importance)
		}
		if len(g.Embedding) != len(w.Embedding) {
			t.Fatalf("embedding: got %d values, want %d", len(g.Embedding), len(w.Embedding))
		}
		for i := range w.Embedding {
			if g.Embedding[i] != w.Embedding[i] {
				t.Fatalf("embedding[%d]: got %v, want %v", i, g.Embedding[i], w.Embedding[i])
			}
		}
	case domain.MemoriesLinked:
		g := got.(domain.MemoriesLinked)
		if g.LinkType != w.LinkType || g.Weight != w.Weight {
			t.Errorf("link: got %q %v, want %q %v", g.LinkType, g.Weight, w.LinkType, w.Weight)
		}
	case domain.MemoryImportanceSet:
		g := got.(domain.MemoryImportanceSet)
		if g.Importance != w.Importance || g.ImportanceNorm != w.ImportanceNorm {
			t.Errorf("importance: got %v %v, want %v %v", g.Importance, g.ImportanceNorm, w.Importance, w.ImportanceNorm)
		}
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testRegistryURLIsReal() bool {
	return testenv.Optional(testenv.RegistryURLVar) != ""
}

// catalogFromFiles builds a MemoryStored-only catalog from version files.
func catalogFromFiles(t testing.TB, files map[string][]byte) *Catalog {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, b := range files {
		fsys["avro/MemoryStored/"+name] = &fstest.MapFile{Data: b}
	}
	cat, err := NewCatalog(fsys)
	if err != nil {
		t.Fatalf("NewCatalog: %v", err)
	}
	return cat
}
