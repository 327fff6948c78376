package domain

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func storedEvent(t *testing.T, payload map[string]any, imp *float64, norm float64) MemoryStored {
	t.Helper()
	cmd := validStore()
	cmd.Payload = payload
	cmd.Importance = imp
	e, err := DecideStore(testMeta(), cmd, norm)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestMemoryFromStored(t *testing.T) {
	t.Run("decodes_payload_keeping_number_text", func(t *testing.T) {
		e := storedEvent(t, map[string]any{"n": json.Number("1.50"), "big": json.Number("12345678901234567890")}, nil, 0)
		m, err := MemoryFromStored(e)
		if err != nil {
			t.Fatal(err)
		}
		if m.Payload["n"] != json.Number("1.50") || m.Payload["big"] != json.Number("12345678901234567890") {
			t.Fatalf("payload %#v", m.Payload)
		}
		if m.Payload["timestamp"] != json.Number("1740830400.25") {
			t.Fatalf("timestamp %#v", m.Payload["timestamp"])
		}
		want := Memory{
			Namespace: "default", Coordinate: e.Coordinate, Type: Episodic, Payload: m.Payload,
			ImportanceNorm: NeutralImportance, StoredAt: e.OccurredAt, UpdatedAt: e.OccurredAt,
			Version: 1, LastEventID: e.EventID,
		}
		if !reflect.DeepEqual(m, want) {
			t.Fatalf("memory %+v, want %+v", m, want)
		}
	})
	t.Run("copies_importance", func(t *testing.T) {
		e := storedEvent(t, map[string]any{}, ptr(3), 0.2)
		m, err := MemoryFromStored(e)
		if err != nil {
			t.Fatal(err)
		}
		*e.Importance = 4
		if m.Importance == nil || *m.Importance != 3 || m.ImportanceNorm != 0.2 {
			t.Fatalf("importance %v norm %v", m.Importance, m.ImportanceNorm)
		}
	})
	malformed := []struct{ name, payload string }{
		{"rejects_empty_payload", ``},
		{"rejects_null_payload", `null`},
		{"rejects_array_payload", `[1]`},
		{"rejects_string_payload", `"x"`},
		{"rejects_trailing_data", `{"a":1} {}`},
		{"rejects_truncated_object", `{"a":`},
	}
	for _, tt := range malformed {
		t.Run(tt.name, func(t *testing.T) {
			e := MemoryStored{EventMeta: testMeta(), Payload: json.RawMessage(tt.payload)}
			if _, err := MemoryFromStored(e); err == nil {
				t.Fatalf("payload %q accepted", tt.payload)
			}
		})
	}
}

func TestMemoryRecord(t *testing.T) {
	e := storedEvent(t, map[string]any{
		"task": "x", "importance": json.Number("7"),
		"memory_type": "spoofed", "coordinate": "spoofed", "importance_norm": 99,
	}, ptr(7), 0.8)
	m, err := MemoryFromStored(e)
	if err != nil {
		t.Fatal(err)
	}
	rec := m.Record()

	t.Run("system_fields_override_payload", func(t *testing.T) {
		if rec["memory_type"] != "episodic" || rec["importance_norm"] != 0.8 {
			t.Fatalf("record %#v", rec)
		}
		if c, ok := rec["coordinate"].([]float64); !ok || !reflect.DeepEqual(c, []float64{1, 2, 3}) {
			t.Fatalf("coordinate %#v", rec["coordinate"])
		}
	})
	t.Run("keeps_raw_importance_and_timestamp", func(t *testing.T) {
		if rec["importance"] != json.Number("7") || rec["timestamp"] != json.Number("1740830400.25") || rec["task"] != "x" {
			t.Fatalf("record %#v", rec)
		}
	})
	t.Run("does_not_alias_payload", func(t *testing.T) {
		rec["task"] = "changed"
		if m.Payload["task"] != "x" || m.Payload["memory_type"] != "spoofed" {
			t.Fatal("record aliases the payload")
		}
	})
	t.Run("encodes_as_client_json", func(t *testing.T) {
		m := Memory{Type: Semantic, Payload: map[string]any{"a": json.Number("1.0")}, ImportanceNorm: 0.5}
		b, err := json.Marshal(m.Record())
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != `{"a":1.0,"coordinate":[],"importance_norm":0.5,"memory_type":"semantic"}` {
			t.Fatalf("json %s", b)
		}
	})
}

func TestMemoryApplyImportance(t *testing.T) {
	e := storedEvent(t, map[string]any{"task": "x"}, nil, 0)
	m, err := MemoryFromStored(e)
	if err != nil {
		t.Fatal(err)
	}
	before := m
	set := MemoryImportanceSet{
		EventMeta:  EventMeta{EventID: "e2", Namespace: "default", OccurredAt: e.OccurredAt.Add(time.Minute)},
		Coordinate: m.Coordinate, Importance: 5, ImportanceNorm: 0.7,
	}
	m.ApplyImportance(set)

	t.Run("sets_importance_and_payload_key", func(t *testing.T) {
		if m.Importance == nil || *m.Importance != 5 || m.ImportanceNorm != 0.7 || m.Payload["importance"] != 5.0 {
			t.Fatalf("memory %+v", m)
		}
		if m.Record()["importance"] != 5.0 {
			t.Fatal("record lacks the new importance")
		}
	})
	t.Run("advances_version", func(t *testing.T) {
		if m.Version != 2 || m.LastEventID != "e2" || !m.UpdatedAt.Equal(set.OccurredAt) || !m.StoredAt.Equal(e.OccurredAt) {
			t.Fatalf("memory %+v", m)
		}
	})
	t.Run("leaves_earlier_copies_alone", func(t *testing.T) {
		if _, ok := before.Payload["importance"]; ok || before.Importance != nil {
			t.Fatal("earlier copy changed")
		}
	})
	t.Run("reapplying_same_event_is_a_no_op", func(t *testing.T) {
		again := m
		again.ApplyImportance(set)
		if again.Version != 2 {
			t.Fatalf("version %d", again.Version)
		}
	})
	t.Run("works_on_nil_payload", func(t *testing.T) {
		var z Memory
		z.ApplyImportance(set)
		if z.Payload["importance"] != 5.0 {
			t.Fatalf("payload %#v", z.Payload)
		}
	})
}
