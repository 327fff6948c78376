package schemas

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/somafractalmemory/soma/domain"
)

// TestCodecWriterSchemaLimits: writer schemas from the registry whose
// extra fields the decoder would have to skip are refused when skipping
// them is unbounded work in the Avro library (an array or map block
// count is trusted: GO-2026-5046, GO-2026-5048), and accepted otherwise.
func TestCodecWriterSchemaLimits(t *testing.T) {
	cat := builtinCatalog(t)
	url := testRegistryURL(t)
	topic := uniqueTopic()
	codec, rc := registeredCodec(t, url, topic, cat)
	v1, err := builtin.ReadFile("avro/MemoryDeleted/v1.avsc")
	if err != nil {
		t.Fatal(err)
	}
	// withField returns MemoryDeleted v1 plus one trailing field.
	withField := func(field string) string {
		s := strings.TrimSpace(string(v1))
		i := strings.LastIndex(s, "]")
		return s[:i] + ", " + field + "\n  ]\n}"
	}
	// register stores schema under a subject of its own (so the real
	// subject's compatibility rules do not apply) and returns its id.
	register := func(t *testing.T, schema string) uint32 {
		t.Helper()
		s, err := rc.client.CreateSchema(uniqueTopic()+"-io.somafractalmemory.events.MemoryDeleted", schema, "AVRO")
		if err != nil {
			t.Fatal(err)
		}
		return uint32(s.ID())
	}
	// body is a valid MemoryDeleted v1 body: event id, namespace,
	// occurred_at, two null unions, a one-element coordinate.
	body := func() []byte {
		b := []byte{72}
		b = append(b, "00000000-0000-4000-8000-000000000001"...)
		b = append(b, 2, 'n', 2, 0, 0, 2)
		b = binary.LittleEndian.AppendUint64(b, 0)
		return append(b, 0)
	}

	refused := []struct{ name, field string }{
		{"array_field_unknown_to_the_reader", `{"name": "junk", "type": {"type": "array", "items": "null"}, "default": []}`},
		{"map_field_unknown_to_the_reader", `{"name": "junk", "type": {"type": "map", "values": "long"}, "default": {}}`},
		{"array_inside_an_unknown_union", `{"name": "junk", "type": ["null", {"type": "array", "items": "double"}], "default": null}`},
		{"array_inside_an_unknown_record", `{"name": "junk", "type": {"type": "record", "name": "Junk", "fields": [{"name": "a", "type": {"type": "array", "items": "null"}}]}}`},
	}
	for _, tt := range refused {
		t.Run("refuses_"+tt.name, func(t *testing.T) {
			id := register(t, withField(tt.field))
			// A block count of 2^62 null items, then nothing: without the
			// check the decoder loops for ever.
			msg := binary.BigEndian.AppendUint32([]byte{0}, id)
			msg = append(msg, body()...)
			msg = append(msg, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)
			done := make(chan error, 1)
			go func() { _, err := codec.Decode(msg); done <- err }()
			select {
			case err := <-done:
				if !errors.Is(err, ErrIncompatibleSchema) || !Permanent(err) {
					t.Fatalf("err = %v, want ErrIncompatibleSchema", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Decode did not return")
			}
		})
	}

	t.Run("accepts_scalar_field_unknown_to_the_reader", func(t *testing.T) {
		id := register(t, withField(`{"name": "note", "type": ["null", "string"], "default": null}`))
		msg := binary.BigEndian.AppendUint32([]byte{0}, id)
		msg = append(msg, body()...)
		msg = append(msg, 2, 4, 'h', 'i')
		e, err := codec.Decode(msg)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := e.(domain.MemoryDeleted); !ok {
			t.Fatalf("decoded %T, want domain.MemoryDeleted", e)
		}
	})

	t.Run("catalog_versions_pass", func(t *testing.T) {
		for _, ref := range rc.KnownIDs() {
			if _, err := codec.EventNameOf(ref.ID); err != nil {
				t.Errorf("%s v%d: %v", ref.Event, ref.Version, err)
			}
		}
	})
}
