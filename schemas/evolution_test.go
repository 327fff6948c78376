package schemas

import (
	"context"
	"strings"
	"testing"

	"github.com/somafractalmemory/soma/domain"
)

func TestEvolution(t *testing.T) {
	t.Run("v2_with_optional_field_reads_v1_events", func(t *testing.T) {
		url := testRegistryURL(t)
		topic := uniqueTopic()
		v1Codec, _ := registeredCodec(t, url, topic, builtinCatalog(t))

		v2Cat := catalogWithV2(t, "testdata/evolution/MemoryStored.v2.avsc")
		if problems := v2Cat.Check(); len(problems) != 0 {
			t.Fatalf("Check: %v", problems)
		}
		v2Codec, _ := registeredCodec(t, url, topic, v2Cat)
		v1ID, _ := v1Codec.WriterID(domain.EventMemoryStored)
		v2ID, _ := v2Codec.WriterID(domain.EventMemoryStored)
		if v1ID == v2ID {
			t.Fatalf("v1 and v2 share id %d", v1ID)
		}

		for _, tt := range sampleEvents() {
			if tt.event.EventName() != domain.EventMemoryStored {
				continue
			}
			t.Run(tt.name, func(t *testing.T) {
				old, err := v1Codec.Encode(tt.event)
				if err != nil {
					t.Fatal(err)
				}
				got, err := v2Codec.Decode(old)
				if err != nil {
					t.Fatalf("v2 reader on v1 bytes: %v", err)
				}
				assertSameEvent(t, got, tt.event)

				// The new field takes its default.
				rs, err := v2Codec.reader(v1ID)
				if err != nil {
					t.Fatal(err)
				}
				var generic map[string]any
				if err := v2Codec.api.Unmarshal(rs.schema, old[5:], &generic); err != nil {
					t.Fatal(err)
				}
				if v, ok := generic["source"]; !ok || v != nil {
					t.Fatalf("source = %v (present %v), want the default null", v, ok)
				}
			})
		}
	})

	t.Run("incompatible_v2_is_reported_by_check", func(t *testing.T) {
		// Check the compatible catalog first: a checker that cached its
		// verdict for the same canonical form would now answer wrongly.
		if problems := catalogWithV2(t, "testdata/evolution/MemoryStored.v2.avsc").Check(); len(problems) != 0 {
			t.Fatalf("compatible catalog: %v", problems)
		}
		problems := catalogWithV2(t, "testdata/incompatible/MemoryStored.v2.avsc").Check()
		if len(problems) != 1 {
			t.Fatalf("problems %v, want one", problems)
		}
		p := problems[0]
		if p.Event != domain.EventMemoryStored || p.ReaderVersion != 2 || p.WriterVersion != 1 || p.Registry || !strings.Contains(p.Reason, "source") {
			t.Fatalf("problem %+v", p)
		}
		if s := p.String(); !strings.Contains(s, "MemoryStored v2 cannot read v1") {
			t.Fatalf("String() = %q", s)
		}
	})

	t.Run("check_is_transitive", func(t *testing.T) {
		// v3 reads v2 but not v1: every earlier version counts.
		v1 := readFile(t, "avro/MemoryStored/v1.avsc")
		v2 := readFile(t, "testdata/evolution/MemoryStored.v2.avsc")
		v3 := strings.Replace(string(v2), `"type": ["null", "string"], "default": null, "doc": "Test-only v2 field: where the memory came from."`, `"type": ["null", "string"], "doc": "Test-only v3: default dropped."`, 1)
		if v3 == string(v2) {
			t.Fatal("v3 not derived")
		}
		cat := catalogFromFiles(t, map[string][]byte{"v1.avsc": v1, "v2.avsc": v2, "v3.avsc": []byte(v3)})
		problems := cat.Check()
		if len(problems) != 1 || problems[0].ReaderVersion != 3 || problems[0].WriterVersion != 1 {
			t.Fatalf("problems %v, want v3 cannot read v1", problems)
		}
	})

	t.Run("codec_refuses_a_catalog_whose_latest_cannot_read_older", func(t *testing.T) {
		if testRegistryURLIsReal() {
			t.Skip("a real registry refuses the registration itself (see TestRegister)")
		}
		cat := catalogWithV2(t, "testdata/incompatible/MemoryStored.v2.avsc")
		rc := newTestClient(t, testRegistryURL(t), uniqueTopic(), cat)
		if _, err := rc.Register(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := NewCodec(cat, rc); err == nil || !strings.Contains(err.Error(), "cannot read v1") {
			t.Fatalf("NewCodec: %v", err)
		}
	})
}
