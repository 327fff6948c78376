package domain

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func ptr(f float64) *float64 { return &f }

func validStore() StoreMemory {
	return StoreMemory{
		Coordinate:     MustCoordinate(1, 2, 3),
		Payload:        map[string]any{"task": "write <tests>", "n": json.Number("1.50")},
		Embedding:      []float32{0.6, 0.8},
		EmbeddingModel: "hash-v1/2",
	}
}

func TestDecideStore(t *testing.T) {
	meta := testMeta()

	t.Run("episodic_gets_timestamp_from_occurred_at", func(t *testing.T) {
		e, err := DecideStore(meta, validStore(), 0.9)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"n":1.50,"task":"write <tests>","timestamp":1740830400.25}`
		if string(e.Payload) != want {
			t.Fatalf("payload %s, want %s", e.Payload, want)
		}
		if e.Type != Episodic || e.Importance != nil || e.ImportanceNorm != NeutralImportance {
			t.Fatalf("event %+v", e)
		}
		if e.EventName() != EventMemoryStored || !e.Subject().Equal(MustCoordinate(1, 2, 3)) || e.Metadata() != meta {
			t.Fatalf("event identity %+v", e)
		}
	})
	t.Run("keeps_caller_timestamp", func(t *testing.T) {
		cmd := validStore()
		cmd.Payload = map[string]any{"timestamp": "yesterday"}
		e, err := DecideStore(meta, cmd, 0)
		if err != nil {
			t.Fatal(err)
		}
		if string(e.Payload) != `{"timestamp":"yesterday"}` {
			t.Fatalf("payload %s", e.Payload)
		}
	})
	t.Run("semantic_gets_no_timestamp", func(t *testing.T) {
		cmd := validStore()
		cmd.Type = Semantic
		cmd.Payload = map[string]any{}
		e, err := DecideStore(meta, cmd, 0)
		if err != nil {
			t.Fatal(err)
		}
		if string(e.Payload) != `{}` || e.Type != Semantic {
			t.Fatalf("event %+v payload %s", e, e.Payload)
		}
	})
	t.Run("does_not_modify_or_retain_inputs", func(t *testing.T) {
		cmd := validStore()
		e, err := DecideStore(meta, cmd, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := cmd.Payload["timestamp"]; ok {
			t.Fatal("caller payload gained a timestamp")
		}
		cmd.Embedding[0] = 9
		if e.Embedding[0] != 0.6 {
			t.Fatal("event aliases the caller's embedding")
		}
	})
	t.Run("payload_encoding_is_deterministic", func(t *testing.T) {
		cmd := validStore()
		cmd.Payload = map[string]any{"b": 1, "a": map[string]any{"z": true, "y": []any{"x", 2.5}}, "c": nil}
		first, err := DecideStore(meta, cmd, 0)
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			again, _ := DecideStore(meta, cmd, 0)
			if string(again.Payload) != string(first.Payload) {
				t.Fatalf("%s vs %s", again.Payload, first.Payload)
			}
		}
		if !strings.HasPrefix(string(first.Payload), `{"a":{"y":["x",2.5],"z":true},"b":1,"c":null,`) {
			t.Fatalf("payload %s", first.Payload)
		}
	})
	t.Run("carries_importance_and_norm", func(t *testing.T) {
		cmd := validStore()
		cmd.Importance = ptr(7)
		e, err := DecideStore(meta, cmd, 0.75)
		if err != nil {
			t.Fatal(err)
		}
		if e.Importance == nil || *e.Importance != 7 || e.ImportanceNorm != 0.75 {
			t.Fatalf("importance %v norm %v", e.Importance, e.ImportanceNorm)
		}
		*cmd.Importance = 8
		if *e.Importance != 7 {
			t.Fatal("event aliases the caller's importance")
		}
	})
	t.Run("rejects_norm_outside_unit_interval_as_bug", func(t *testing.T) {
		cmd := validStore()
		cmd.Importance = ptr(1)
		for _, norm := range []float64{-0.1, 1.1, math.NaN()} {
			_, err := DecideStore(meta, cmd, norm)
			var ve ValidationErrors
			if err == nil || errors.As(err, &ve) {
				t.Fatalf("norm %v: err %v, want a plain error", norm, err)
			}
		}
	})

	invalid := []struct {
		name   string
		meta   EventMeta
		mutate func(*StoreMemory)
		fields string
		cause  error
	}{
		{"rejects_nil_payload", meta, func(c *StoreMemory) { c.Payload = nil }, "payload", nil},
		{"rejects_nan_in_payload", meta, func(c *StoreMemory) { c.Payload = map[string]any{"x": math.NaN()} }, "payload", nil},
		{"rejects_unknown_type", meta, func(c *StoreMemory) { c.Type = "procedural" }, "type", ErrInvalidMemoryType},
		{"rejects_nan_importance", meta, func(c *StoreMemory) { c.Importance = ptr(math.NaN()) }, "importance", ErrInvalidImportance},
		{"rejects_empty_embedding", meta, func(c *StoreMemory) { c.Embedding = nil }, "embedding", nil},
		{"rejects_non_finite_embedding", meta, func(c *StoreMemory) { c.Embedding = []float32{1, float32(math.Inf(1)), float32(math.NaN())} }, "embedding", nil},
		{"rejects_missing_embedding_model", meta, func(c *StoreMemory) { c.EmbeddingModel = "" }, "embedding_model", nil},
		{"rejects_invalid_meta", EventMeta{Namespace: "x y"}, func(*StoreMemory) {}, "event_id,namespace,occurred_at", ErrInvalidNamespace},
		{"reports_every_field", meta, func(c *StoreMemory) { *c = StoreMemory{Type: "x", Importance: ptr(math.Inf(1))} }, "type,payload,importance,embedding,embedding_model", ErrInvalidImportance},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			cmd := validStore()
			tt.mutate(&cmd)
			_, err := DecideStore(tt.meta, cmd, 0.5)
			var ve ValidationErrors
			if !errors.As(err, &ve) {
				t.Fatalf("err %v is not ValidationErrors", err)
			}
			if got := fields(ve); got != tt.fields {
				t.Fatalf("fields %s, want %s (%v)", got, tt.fields, err)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Fatalf("err %v does not wrap %v", err, tt.cause)
			}
		})
	}
}

func TestDecideLink(t *testing.T) {
	meta := testMeta()
	from, to := MustCoordinate(1), MustCoordinate(2)
	t.Run("applies_default_type_and_keeps_weight", func(t *testing.T) {
		e, err := DecideLink(meta, LinkMemories{From: from, To: to, Type: " ", Weight: 0})
		if err != nil {
			t.Fatal(err)
		}
		if e.LinkType != DefaultLinkType || e.Weight != 0 || !e.From.Equal(from) || !e.To.Equal(to) {
			t.Fatalf("event %+v", e)
		}
		if e.EventName() != EventMemoriesLinked || !e.Subject().Equal(from) {
			t.Fatalf("identity %+v", e)
		}
	})
	t.Run("allows_self_loop", func(t *testing.T) {
		if _, err := DecideLink(meta, LinkMemories{From: from, To: from, Type: "self", Weight: 1}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("rejects_negative_weight", func(t *testing.T) {
		_, err := DecideLink(meta, LinkMemories{From: from, To: to, Weight: -1})
		var ve ValidationErrors
		if !errors.As(err, &ve) || fields(ve) != "weight" || !errors.Is(err, ErrInvalidWeight) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("rejects_nan_weight_and_long_type", func(t *testing.T) {
		_, err := DecideLink(meta, LinkMemories{Type: strings.Repeat("t", 200), Weight: math.NaN()})
		var ve ValidationErrors
		if !errors.As(err, &ve) || fields(ve) != "type,weight" || !errors.Is(err, ErrInvalidLinkType) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestDecideSetImportance(t *testing.T) {
	meta := testMeta()
	c := MustCoordinate(4)
	t.Run("returns_event", func(t *testing.T) {
		e, err := DecideSetImportance(meta, c, -3, 0)
		if err != nil {
			t.Fatal(err)
		}
		if e.Importance != -3 || e.ImportanceNorm != 0 || !e.Coordinate.Equal(c) || e.EventName() != EventMemoryImportanceSet {
			t.Fatalf("event %+v", e)
		}
	})
	t.Run("rejects_infinite_raw", func(t *testing.T) {
		_, err := DecideSetImportance(meta, c, math.Inf(1), 0.5)
		var ve ValidationErrors
		if !errors.As(err, &ve) || fields(ve) != "importance" || !errors.Is(err, ErrInvalidImportance) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("rejects_norm_outside_unit_interval_as_bug", func(t *testing.T) {
		_, err := DecideSetImportance(meta, c, 1, 2)
		var ve ValidationErrors
		if err == nil || errors.As(err, &ve) {
			t.Fatalf("err %v, want a plain error", err)
		}
	})
}

func TestDecideDeleteAndUnlink(t *testing.T) {
	meta := testMeta()
	d := DecideDelete(meta, MustCoordinate(1))
	if d.EventName() != EventMemoryDeleted || !d.Subject().Equal(MustCoordinate(1)) || d.Metadata() != meta {
		t.Fatalf("delete %+v", d)
	}
	u := DecideUnlink(meta, MustCoordinate(1), MustCoordinate(2))
	if u.EventName() != EventMemoryUnlinked || !u.Subject().Equal(MustCoordinate(1)) || !u.To.Equal(MustCoordinate(2)) {
		t.Fatalf("unlink %+v", u)
	}
	if PartitionKey(u) != "default\x001" {
		t.Fatalf("partition key %q", PartitionKey(u))
	}
}
