package schemas

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/somafractalmemory/soma/domain"
)

func TestCodecRoundTrip(t *testing.T) {
	cat := builtinCatalog(t)
	codec, _ := registeredCodec(t, testRegistryURL(t), uniqueTopic(), cat)

	for _, tt := range sampleEvents() {
		t.Run(tt.name, func(t *testing.T) {
			b, err := codec.Encode(tt.event)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := codec.Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			assertSameEvent(t, got, tt.event)
			if got.EventName() != tt.event.EventName() {
				t.Fatalf("name %s, want %s", got.EventName(), tt.event.EventName())
			}
			if domain.PartitionKey(got) != domain.PartitionKey(tt.event) {
				t.Fatalf("partition key changed: %q vs %q", domain.PartitionKey(got), domain.PartitionKey(tt.event))
			}
		})
	}

	t.Run("nil_payload_stays_nil", func(t *testing.T) {
		e := domain.MemoryStored{EventMeta: meta("7e1f9a52-3e3b-4f7e-9a55-5e0c3b7d1a20"), Type: domain.Episodic}
		b, err := codec.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := codec.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if p := got.(domain.MemoryStored).Payload; p != nil {
			t.Fatalf("payload %q, want nil", p)
		}
	})
}

func TestCodecFraming(t *testing.T) {
	cat := builtinCatalog(t)
	codec, rc := registeredCodec(t, testRegistryURL(t), uniqueTopic(), cat)

	t.Run("header_is_magic_byte_and_big_endian_writer_id", func(t *testing.T) {
		for _, tt := range sampleEvents() {
			b, err := codec.Encode(tt.event)
			if err != nil {
				t.Fatal(err)
			}
			wantID, ok := codec.WriterID(tt.event.EventName())
			if !ok {
				t.Fatalf("no writer id for %s", tt.event.EventName())
			}
			var want [5]byte
			want[0] = 0
			binary.BigEndian.PutUint32(want[1:], uint32(wantID))
			if !bytes.Equal(b[:5], want[:]) {
				t.Fatalf("%s: header % x, want % x", tt.name, b[:5], want)
			}
			id, err := SchemaID(b)
			if err != nil || id != wantID {
				t.Fatalf("SchemaID = %d, %v; want %d", id, err, wantID)
			}
			name, err := codec.EventNameOf(id)
			if err != nil || name != tt.event.EventName() {
				t.Fatalf("EventNameOf(%d) = %q, %v", id, name, err)
			}
		}
	})

	t.Run("writer_id_is_the_registered_id_of_the_latest_version", func(t *testing.T) {
		for _, ref := range rc.KnownIDs() {
			if id, _ := codec.WriterID(ref.Event); id != ref.ID {
				t.Errorf("%s: writer id %d, registry id %d", ref.Event, id, ref.ID)
			}
		}
	})

	t.Run("body_is_plain_avro_binary", func(t *testing.T) {
		// Golden bytes of a small event, written by hand from the Avro
		// specification: any change here breaks every reader of the log.
		e := domain.MemoryDeleted{
			EventMeta: domain.EventMeta{
				EventID:    "00000000-0000-4000-8000-000000000001",
				Namespace:  "ns",
				OccurredAt: time.UnixMicro(1),
				Actor:      "a",
			},
			Coordinate: domain.MustCoordinate(1, 2),
		}
		b, err := codec.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		want.WriteByte(72) // string length 36, zig-zag
		want.WriteString("00000000-0000-4000-8000-000000000001")
		want.Write([]byte{4, 'n', 's'}) // namespace
		want.WriteByte(2)               // occurred_at = 1 µs
		want.WriteByte(0)               // idempotency_key: union branch 0 (null)
		want.Write([]byte{2, 2, 'a'})   // actor: branch 1 (string) "a"
		want.WriteByte(4)               // coordinate: block of 2 items
		want.Write(binary.LittleEndian.AppendUint64(nil, math.Float64bits(1)))
		want.Write(binary.LittleEndian.AppendUint64(nil, math.Float64bits(2)))
		want.WriteByte(0) // end of array
		if !bytes.Equal(b[5:], want.Bytes()) {
			t.Fatalf("body\n got % x\nwant % x", b[5:], want.Bytes())
		}
	})

	t.Run("another_avro_implementation_reads_the_body", func(t *testing.T) {
		latest, _ := cat.Latest(domain.EventMemoryStored)
		other, err := goavro.NewCodec(latest.Text)
		if err != nil {
			t.Fatal(err)
		}
		e := sampleEvents()[0].event.(domain.MemoryStored)
		b, err := codec.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		native, rest, err := other.NativeFromBinary(b[5:])
		if err != nil || len(rest) != 0 {
			t.Fatalf("goavro: %v (%d bytes left)", err, len(rest))
		}
		m := native.(map[string]any)
		if m["event_id"] != e.EventID || m["memory_type"] != "semantic" || m["payload"] != string(e.Payload) {
			t.Fatalf("goavro read %v", m)
		}
		if m["importance"].(map[string]any)["double"] != *e.Importance {
			t.Fatalf("importance %v", m["importance"])
		}
		if got := m["occurred_at"].(time.Time); !got.Equal(e.OccurredAt.Truncate(time.Microsecond)) {
			t.Fatalf("occurred_at %v", got)
		}
		if n := len(m["embedding"].([]any)); n != len(e.Embedding) {
			t.Fatalf("embedding has %d values", n)
		}
	})
}

func TestCodecEncodeRejects(t *testing.T) {
	codec, _ := registeredCodec(t, testRegistryURL(t), uniqueTopic(), builtinCatalog(t))
	tests := []struct {
		name  string
		event domain.Event
	}{
		{"rejects_event_id_that_is_not_a_uuid", domain.MemoryDeleted{EventMeta: domain.EventMeta{EventID: "not-a-uuid"}}},
		{"rejects_empty_event_id", domain.MemoryDeleted{}},
		{"rejects_unknown_memory_type", domain.MemoryStored{EventMeta: meta("3f2b8c1e-9d4a-4c5b-8e7f-0a1b2c3d4e5f"), Type: "procedural"}},
		{"rejects_empty_memory_type", domain.MemoryStored{EventMeta: meta("3f2b8c1e-9d4a-4c5b-8e7f-0a1b2c3d4e5f")}},
		{"rejects_foreign_event_type", foreignEvent{}},
		{"rejects_nil_event", nil},
		{"rejects_nil_event_pointer", (*domain.MemoryStored)(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := codec.Encode(tt.event); !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("err = %v, want ErrInvalidEvent", err)
			}
		})
	}
}

type foreignEvent struct{ domain.MemoryDeleted }

func (foreignEvent) EventName() string { return "MemoryMoved" }

func TestCodecDecodeErrors(t *testing.T) {
	cat := builtinCatalog(t)
	url := testRegistryURL(t)
	codec, rc := registeredCodec(t, url, uniqueTopic(), cat)
	valid, err := codec.Encode(sampleEvents()[0].event)
	if err != nil {
		t.Fatal(err)
	}
	withID := func(id uint32, body []byte) []byte {
		b := binary.BigEndian.AppendUint32([]byte{0}, id)
		return append(b, body...)
	}
	deletedID, _ := codec.WriterID(domain.EventMemoryDeleted)

	t.Run("unknown_schema_id", func(t *testing.T) {
		b := withID(1<<31-7, valid[5:])
		_, err := codec.Decode(b)
		if !errors.Is(err, ErrUnknownSchemaID) || !Permanent(err) {
			t.Fatalf("err = %v, want ErrUnknownSchemaID", err)
		}
		if _, err := codec.EventNameOf(1<<31 - 7); !errors.Is(err, ErrUnknownSchemaID) {
			t.Fatalf("EventNameOf: %v", err)
		}
	})

	t.Run("schema_id_of_a_foreign_record", func(t *testing.T) {
		other := `{"type":"record","name":"User","namespace":"com.example","fields":[{"name":"id","type":"string"}]}`
		s, err := rc.client.CreateSchema(uniqueTopic()+"-com.example.User", other, "AVRO")
		if err != nil {
			t.Fatal(err)
		}
		_, err = codec.Decode(withID(uint32(s.ID()), []byte{2, 'x'}))
		if !errors.Is(err, ErrUnknownSchemaID) {
			t.Fatalf("err = %v, want ErrUnknownSchemaID", err)
		}
	})

	malformed := []struct {
		name string
		b    []byte
	}{
		{"empty_message", nil},
		{"shorter_than_header", []byte{0, 0, 0}},
		{"wrong_magic_byte", append([]byte{1}, valid[1:]...)},
		{"header_only", valid[:5]},
		{"truncated_body", valid[:len(valid)-1]},
		{"trailing_bytes", append(append([]byte(nil), valid...), 0)},
		{"garbage_body", withID(uint32(deletedID), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})},
		{"huge_string_length", withID(uint32(deletedID), []byte{0xfe, 0xff, 0xff, 0xff, 0x0f})},
		{"event_id_not_a_uuid", withID(uint32(deletedID), []byte{2, 'x', 0, 0, 0, 0, 0})},
		{"non_finite_coordinate", func() []byte {
			b := withID(uint32(deletedID), []byte{72})
			b = append(b, "00000000-0000-4000-8000-000000000001"...)
			b = append(b, 0, 0, 0, 0, 2)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(math.NaN()))
			return append(b, 0)
		}()},
	}
	for _, tt := range malformed {
		t.Run(tt.name, func(t *testing.T) {
			_, err := codec.Decode(tt.b)
			if !errors.Is(err, ErrMalformed) || !Permanent(err) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}

	t.Run("every_truncation_is_malformed", func(t *testing.T) {
		for n := 0; n < len(valid); n++ {
			if _, err := codec.Decode(valid[:n]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("prefix of %d bytes: err = %v", n, err)
			}
		}
	})

	t.Run("random_bodies_are_malformed", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, ref := range rc.KnownIDs() {
			for range 500 {
				body := make([]byte, rng.IntN(64))
				for i := range body {
					body[i] = byte(rng.Uint32())
				}
				if _, err := codec.Decode(withID(uint32(ref.ID), body)); !errors.Is(err, ErrMalformed) {
					t.Fatalf("%s body % x: err = %v", ref.Event, body, err)
				}
			}
		}
	})
}

func TestCodecDecodeRegistryDown(t *testing.T) {
	cat := builtinCatalog(t)
	codec, _ := registeredCodec(t, testRegistryURL(t), uniqueTopic(), cat)

	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	rc := newTestClient(t, downURL, DefaultTopic, cat)
	// The down client knows the ids of the working one's schemas, as if
	// it had resolved them before the registry went away.
	for _, ref := range codec.source.KnownIDs() {
		rc.remember(ref)
	}
	downCodec, err := NewCodec(cat, rc)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("known_ids_need_no_registry", func(t *testing.T) {
		b, err := codec.Encode(sampleEvents()[3].event)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := downCodec.Decode(b); err != nil {
			t.Fatalf("Decode: %v", err)
		}
	})

	t.Run("unknown_id_is_a_transient_error", func(t *testing.T) {
		b := binary.BigEndian.AppendUint32([]byte{0}, 123456)
		_, err := downCodec.Decode(append(b, 0))
		if err == nil || Permanent(err) {
			t.Fatalf("err = %v, want a transient error", err)
		}
	})
}

func TestCodecConcurrentDecodeOfNewID(t *testing.T) {
	// Readers of v1 meet events written by a v2 producer: the first
	// sighting of the v2 id fetches it from the registry, concurrently.
	url := testRegistryURL(t)
	topic := uniqueTopic()
	v1Codec, _ := registeredCodec(t, url, topic, builtinCatalog(t))
	v2Codec, _ := registeredCodec(t, url, topic, catalogWithV2(t, "testdata/evolution/MemoryStored.v2.avsc"))

	e := sampleEvents()[0].event
	b, err := v2Codec.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	v1ID, _ := v1Codec.WriterID(domain.EventMemoryStored)
	if id, _ := SchemaID(b); id == v1ID {
		t.Fatalf("v2 written with the v1 id %d", id)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := v1Codec.Decode(b)
			if err == nil && got.Metadata().EventID != e.Metadata().EventID {
				err = errors.New("wrong event decoded")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, _ := v1Codec.Decode(b)
	assertSameEvent(t, got, e)
}

func FuzzDecode(f *testing.F) {
	cat := builtinCatalog(f)
	codec, _ := registeredCodec(f, testRegistryURL(f), uniqueTopic(), cat)
	for _, tt := range sampleEvents() {
		b, err := codec.Encode(tt.event)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := codec.Decode(b)
		if err != nil {
			if !Permanent(err) && !isRegistryMiss(codec, b) {
				t.Fatalf("non-permanent error for local bytes: %v", err)
			}
			return
		}
		again, err := codec.Encode(e)
		if err != nil {
			t.Fatalf("decoded event does not re-encode: %v", err)
		}
		if _, err := codec.Decode(again); err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
	})
}

// isRegistryMiss: an id the codec does not know is looked up remotely, and
// a registry may fail for reasons of its own.
func isRegistryMiss(c *Codec, b []byte) bool {
	id, err := SchemaID(b)
	if err != nil {
		return false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.readers[id] == nil
}
