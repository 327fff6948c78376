package schemas

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hamba/avro/v2"
)

func TestBuiltinCatalog(t *testing.T) {
	cat := builtinCatalog(t)

	t.Run("covers_every_domain_event", func(t *testing.T) {
		if got, want := strings.Join(cat.Events(), ","), strings.Join(DomainEvents(), ","); got != want {
			t.Fatalf("events %s, want %s", got, want)
		}
	})

	t.Run("record_names_are_the_constants", func(t *testing.T) {
		want := map[string]string{
			"MemoryStored":        "io.somafractalmemory.events.MemoryStored",
			"MemoryDeleted":       "io.somafractalmemory.events.MemoryDeleted",
			"MemoriesLinked":      "io.somafractalmemory.events.MemoriesLinked",
			"MemoryUnlinked":      "io.somafractalmemory.events.MemoryUnlinked",
			"MemoryImportanceSet": "io.somafractalmemory.events.MemoryImportanceSet",
		}
		for event, full := range want {
			for _, v := range cat.Versions(event) {
				if v.FullName != full || v.Schema.(*avro.RecordSchema).FullName() != full {
					t.Errorf("%s v%d: record %s, want %s", event, v.Number, v.FullName, full)
				}
			}
			if back, _ := EventForRecord(full); back != event {
				t.Errorf("EventForRecord(%s) = %s", full, back)
			}
		}
	})

	t.Run("every_event_carries_the_common_fields", func(t *testing.T) {
		common := map[string]string{
			"event_id":        `{"type":"string","logicalType":"uuid"}`,
			"namespace":       `"string"`,
			"occurred_at":     `{"type":"long","logicalType":"timestamp-micros"}`,
			"idempotency_key": `["null","string"]`,
			"actor":           `["null","string"]`,
		}
		for _, event := range cat.Events() {
			latest, _ := cat.Latest(event)
			fields := map[string]*avro.Field{}
			for _, f := range latest.Schema.(*avro.RecordSchema).Fields() {
				fields[f.Name()] = f
			}
			for name, typ := range common {
				f, ok := fields[name]
				if !ok {
					t.Errorf("%s: no field %s", event, name)
					continue
				}
				if got := f.Type().String(); got != typ {
					t.Errorf("%s.%s: type %s, want %s", event, name, got, typ)
				}
			}
			for _, name := range []string{"idempotency_key", "actor"} {
				if f := fields[name]; f != nil && (!f.HasDefault() || f.Default() != nil) {
					t.Errorf("%s.%s: want default null", event, name)
				}
			}
		}
	})

	t.Run("is_backward_transitive", func(t *testing.T) {
		if problems := cat.Check(); len(problems) != 0 {
			t.Fatalf("problems: %v", problems)
		}
	})

	t.Run("lists_subjects_under_topic", func(t *testing.T) {
		entries := cat.List("")
		if len(entries) != len(DomainEvents()) {
			t.Fatalf("%d entries, want %d", len(entries), len(DomainEvents()))
		}
		for _, e := range entries {
			if e.Subject != "memory.events-"+e.Record || e.Version != 1 || !e.Latest || len(e.Fingerprint) != 64 || e.ID != 0 {
				t.Errorf("entry %+v", e)
			}
		}
		if got := cat.List("other")[0].Subject; !strings.HasPrefix(got, "other-io.somafractalmemory.events.") {
			t.Errorf("subject %s", got)
		}
	})
}

func TestNewCatalog(t *testing.T) {
	v1, err := builtin.ReadFile("avro/MemoryDeleted/v1.avsc")
	if err != nil {
		t.Fatal(err)
	}
	file := func(b []byte) *fstest.MapFile { return &fstest.MapFile{Data: b} }

	tests := []struct {
		name    string
		fs      fstest.MapFS
		wantErr string
	}{
		{"accepts_a_subset_of_events", fstest.MapFS{"avro/MemoryDeleted/v1.avsc": file(v1)}, ""},
		{"rejects_unknown_event_directory", fstest.MapFS{"avro/MemoryMoved/v1.avsc": file(v1)}, "not an event name"},
		{"rejects_record_named_after_another_event", fstest.MapFS{"avro/MemoryStored/v1.avsc": file(v1)}, `want "io.somafractalmemory.events.MemoryStored"`},
		{"rejects_version_gap", fstest.MapFS{"avro/MemoryDeleted/v1.avsc": file(v1), "avro/MemoryDeleted/v3.avsc": file(v1)}, "v2 is missing"},
		{"rejects_bad_file_name", fstest.MapFS{"avro/MemoryDeleted/v01.avsc": file(v1)}, "not v<N>.avsc"},
		{"rejects_unparsable_schema", fstest.MapFS{"avro/MemoryDeleted/v1.avsc": file([]byte(`{"type":"record"`))}, "MemoryDeleted/v1.avsc"},
		{"rejects_non_record", fstest.MapFS{"avro/MemoryDeleted/v1.avsc": file([]byte(`"string"`))}, "want record"},
		{"rejects_empty_catalog", fstest.MapFS{"avro/README": file(nil)}, "no event schemas"},
		{"rejects_missing_root", fstest.MapFS{"other/x": file(nil)}, "read avro"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat, err := NewCatalog(tt.fs)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("NewCatalog: %v", err)
				}
				if !cat.Has("MemoryDeleted") || cat.Has("MemoryStored") {
					t.Fatalf("events %v", cat.Events())
				}
				return
			}
			if err == nil || !errors.Is(err, ErrCatalog) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want ErrCatalog containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseSchemaUsesPrivateCache(t *testing.T) {
	// Two schemas defining the same named type differently must not see
	// each other's definition.
	a := `{"type":"record","name":"R","namespace":"t","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}}]}`
	b := `{"type":"record","name":"R2","namespace":"t","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}}]}`
	if _, err := parseSchema(a); err != nil {
		t.Fatal(err)
	}
	sb, err := parseSchema(b)
	if err != nil {
		t.Fatal(err)
	}
	enum := sb.(*avro.RecordSchema).Fields()[0].Type().(*avro.EnumSchema)
	if len(enum.Symbols()) != 2 {
		t.Fatalf("symbols %v: a cached definition leaked", enum.Symbols())
	}
	if avro.DefaultSchemaCache.Get("t.E") != nil {
		t.Fatal("schema leaked into the global cache")
	}
}
