package embedding

import (
	"encoding/json"
	"testing"
)

func TestTextOf(t *testing.T) {
	cases := []struct {
		name    string
		payload string // JSON object
		want    string
	}{
		{"uses_text_field", `{"text":"buy milk","timestamp":1700000000,"tags":["x"]}`, "buy milk"},
		{"joins_text_fields_in_priority_order", `{"title":"Groceries","content":"eggs","text":"buy milk"}`, "buy milk\neggs\nGroceries"},
		{"ignores_blank_text_fields", `{"text":"  ","summary":"weekly sync"}`, "weekly sync"},
		{"ignores_non_string_text_fields", `{"text":{"body":"hi"},"message":"hello"}`, "hello"},
		{"flattens_when_no_text_field", `{"b":"two","a":1,"c":true}`, "a: 1\nb: two\nc: true"},
		{"flattens_nested_objects_and_arrays_with_dotted_keys", `{"user":{"name":"Ann","langs":["go","sql"]},"n":1.5}`,
			"n: 1.5\nuser.langs.0: go\nuser.langs.1: sql\nuser.name: Ann"},
		{"skips_system_and_volatile_fields", `{"timestamp":1700000000,"memory_type":"episodic","coordinate":[1,2],"importance":3,"importance_norm":0.5,"access_count":7,"created_at":"x","updated_at":"y","id":"z","topic":"chess"}`, "topic: chess"},
		{"keeps_nested_fields_named_like_skipped_ones", `{"order":{"id":"A1"}}`, "order.id: A1"},
		{"leaves_out_nulls_and_empty_containers", `{"a":null,"b":{},"c":[],"d":"x"}`, "d: x"},
		{"formats_numbers_compactly", `{"big":1e21,"int":42,"neg":-0.25}`, "big: 1e+21\nint: 42\nneg: -0.25"},
		{"empty_payload_gives_empty_text", `{}`, ""},
		{"only_skipped_fields_give_empty_text", `{"timestamp":1}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p map[string]any
			if err := json.Unmarshal([]byte(tc.payload), &p); err != nil {
				t.Fatal(err)
			}
			if got := TextOf(p); got != tc.want {
				t.Fatalf("TextOf = %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("same_payload_gives_same_text_regardless_of_map_order", func(t *testing.T) {
		build := func(order []string) map[string]any {
			p := map[string]any{}
			for _, k := range order {
				p[k] = map[string]any{"z": k, "a": []any{k, 1.0}}
			}
			return p
		}
		keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"}
		want := TextOf(build(keys))
		for i := range 50 {
			rev := make([]string, len(keys))
			for j := range keys {
				rev[(j+i)%len(keys)] = keys[j]
			}
			if got := TextOf(build(rev)); got != want {
				t.Fatalf("text differs:\n%s\nvs\n%s", got, want)
			}
		}
	})

	t.Run("query_text_decides_similarity_not_timestamp", func(t *testing.T) {
		h := NewHashing(384)
		a := TextOf(map[string]any{"fact": "the deploy failed on tuesday", "timestamp": 1.7e9})
		b := TextOf(map[string]any{"fact": "the deploy failed on tuesday", "timestamp": 1.8e9})
		if a != b {
			t.Fatalf("timestamp changed the text: %q vs %q", a, b)
		}
		if cosine(h.Vector("why did the deploy fail"), h.Vector(a)) <= cosine(h.Vector("lunch menu"), h.Vector(a)) {
			t.Fatal("query text does not drive similarity")
		}
	})

	t.Run("handles_go_typed_values", func(t *testing.T) {
		p := map[string]any{"n": 3, "s": []string{"x"}, "m": map[string]string{"k": "v"}, "j": json.Number("7"), "st": struct{ A int }{1}}
		want := "j: 7\nm.k: v\nn: 3\ns.0: x\nst: {\"A\":1}"
		if got := TextOf(p); got != want {
			t.Fatalf("TextOf = %q, want %q", got, want)
		}
	})

	t.Run("bounds_recursion_on_cyclic_values", func(t *testing.T) {
		p := map[string]any{}
		p["self"] = p
		_ = TextOf(p) // must return
	})

	t.Run("returns_copies_of_field_lists", func(t *testing.T) {
		f := TextFields()
		f[0] = "changed"
		if TextFields()[0] != "text" {
			t.Fatal("TextFields is mutable")
		}
		if len(SkippedFields()) != 9 {
			t.Fatalf("SkippedFields = %v", SkippedFields())
		}
	})
}
