package app

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"testing"

	"github.com/somafractalmemory/soma/internal/config"
)

// fill writes a small history through the API: stores, re-stores,
// importance, links, unlinks and deletes in two namespaces.
func fill(t *testing.T, s *stack) {
	t.Helper()
	for _, ns := range []string{"ra", "rb"} {
		h := map[string]string{"X-Soma-Namespace": ns}
		for i := 0; i < 40; i++ {
			body := fmt.Sprintf(`{"coord":"%d","payload":{"text":"memory %d in %s","importance":%d},"type":"%s"}`, i%30, i, ns, i%7, []string{"episodic", "semantic"}[i%2])
			if code, b, _ := call(t, "POST", s.api+"/store", body, h); code != 200 {
				t.Fatalf("store: %d %v", code, b)
			}
		}
		for i := 0; i < 20; i++ {
			if code, b, _ := call(t, "POST", s.api+"/link", fmt.Sprintf(`{"from_coord":"%d","to_coord":"%d","weight":%d}`, i, (i*7)%30, i), h); code != 200 {
				t.Fatalf("link: %d %v", code, b)
			}
		}
		call(t, "POST", s.api+"/unlink", `{"from_coord":"3","to_coord":"21"}`, h)
		call(t, "POST", s.api+"/set_importance", `{"coord":"4","importance":42}`, h)
		if code, b, _ := call(t, "POST", s.api+"/delete_many", `{"coords":["7","14"]}`, h); code != 200 {
			t.Fatalf("delete: %d %v", code, b)
		}
	}
}

func replayAndCompare(t *testing.T, env map[string]string) {
	s := startServe(t, env)
	fill(t, s)
	// Wait for the projections (evented) by reading with the last token.
	_, _, hdr := call(t, "POST", s.api+"/store", `{"coord":"99","payload":{"text":"last"}}`, map[string]string{"X-Soma-Namespace": "ra"})
	// A recall waits for the vectors and the records, stats for the
	// counters: together every read model has applied the whole history.
	tok := map[string]string{"X-Soma-Consistency-Token": hdr.Get("X-Soma-Consistency-Token"), "X-Soma-Namespace": "ra"}
	if code, b, _ := call(t, "GET", s.query+"/stats", "", tok); code != 200 {
		t.Fatalf("stats: %d %v", code, b)
	}
	if code, b, _ := call(t, "POST", s.query+"/recall", `{"query":"last","top_k":1}`, tok); code != 200 {
		t.Fatalf("recall: %d %v", code, b)
	}
	s.cancel()
	if err := <-s.done; err != nil {
		t.Fatal(err)
	}
	s.done <- nil // for the cleanup registered by startServe

	cfg, err := config.Load(config.MapLookup(env))
	if err != nil {
		t.Fatal(err)
	}
	snap := func() snapshot {
		rt := New(cfg, "test")
		defer rt.Close()
		codec, err := rt.localCodec()
		if err != nil {
			t.Fatal(err)
		}
		models, err := rt.externalReadModels(context.Background(), codec, false)
		if err != nil {
			t.Fatal(err)
		}
		return takeSnapshot(t, rt, models, []string{"ra", "rb"})
	}
	before := snap()
	if len(before.Records) == 0 || len(before.Links) == 0 {
		t.Fatalf("nothing to replay: %+v", before)
	}
	rt := New(cfg, "test")
	if err := rt.Replay(context.Background(), ReplayOptions{Projection: "all", DropOld: true, Batch: 100}, io.Discard); err != nil {
		t.Fatal(err)
	}
	rt.Close()
	after := snap()
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("replayed state differs:\nbefore %d records %d links %v %v\nafter  %d records %d links %v %v",
			len(before.Records), len(before.Links), before.Counts, before.Points, len(after.Records), len(after.Links), after.Counts, after.Points)
	}
	// The switched generation serves and accepts writes.
	s2 := startServe(t, env)
	if code, b, _ := call(t, "GET", s2.query+"/stats", "", map[string]string{"X-Soma-Namespace": "rb"}); code != 200 || b["total_memories"] == float64(0) {
		t.Fatalf("after replay: %d %v", code, b)
	}
}

// TestReplayEvented rebuilds Postgres, Qdrant and Redis from the topic
// into new generations, switches, and finds the same state.
func TestReplayEvented(t *testing.T) {
	replayAndCompare(t, evented(t))
}

// TestReplayDirect rebuilds them from the Postgres event_log of
// direct-write mode.
func TestReplayDirect(t *testing.T) {
	env := evented(t)
	env["EVENTING_ENABLED"] = "false"
	env["MEMORY_MODE"] = "development"
	replayAndCompare(t, env)
}
