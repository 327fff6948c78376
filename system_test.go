package soma_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/somafractalmemory/soma"
	"github.com/somafractalmemory/soma/internal/teststack"
)

func openSystem(t *testing.T, cfg soma.Config) *soma.System {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := soma.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func quiet() map[string]string { return map[string]string{"SOMA_LOG_LEVEL": "warn"} }

// TestSystemEmbedded drives every Memory method of an in-process System on
// the embedded store.
func TestSystemEmbedded(t *testing.T) {
	ctx := context.Background()
	s := openSystem(t, soma.Config{Mode: soma.ModeTest, Namespace: "agent-1", Settings: quiet()})

	if _, err := s.Store(ctx, soma.StoreRequest{Coordinate: soma.Coordinate{1, 2, 3}, Payload: map[string]any{"text": "the cat sat on the mat", "importance": 5}}); err != nil {
		t.Fatal(err)
	}
	rem, err := s.Remember(ctx, soma.StoreRequest{Payload: map[string]any{"text": "dogs chase cats in the park"}, Type: soma.Semantic})
	if err != nil || len(rem.Coordinate) == 0 || len(rem.EventIDs) != 1 {
		t.Fatalf("remember: %+v %v", rem, err)
	}
	bulk, err := s.StoreBulk(ctx, []soma.StoreRequest{
		{Coordinate: soma.Coordinate{4}, Payload: map[string]any{"text": "quantum physics lecture notes", "team": "x"}},
		{Coordinate: soma.Coordinate{5}, Payload: map[string]any{"text": "grocery list: milk eggs bread", "team": "y"}},
	})
	if err != nil || bulk.Stored != 2 {
		t.Fatalf("bulk: %+v %v", bulk, err)
	}

	t.Run("recall_sees_own_writes_best_first", func(t *testing.T) {
		got, err := s.Recall(ctx, soma.RecallRequest{Query: "cat on the mat", TopK: 2})
		if err != nil || len(got) != 2 || got[0].Payload["text"] != "the cat sat on the mat" || !got[0].Coordinate.Equal(soma.Coordinate{1, 2, 3}) {
			t.Fatalf("%+v %v", got, err)
		}
		if got[0].Type != soma.Episodic || got[0].Timestamp == nil {
			t.Fatalf("episodic record without timestamp: %+v", got[0])
		}
		scored, err := s.RecallWithScores(ctx, soma.RecallRequest{Query: "grocery milk", TopK: 1, Filters: map[string]any{"team": "y"}})
		if err != nil || len(scored) != 1 || scored[0].Score <= 0 || math.Abs(scored[0].Score-math.Max(0, scored[0].Cosine)*scored[0].ImportanceNorm) > 1e-9 {
			t.Fatalf("%+v %v", scored, err)
		}
		semantic, err := s.Recall(ctx, soma.RecallRequest{Query: "cats", Type: soma.Semantic})
		if err != nil || len(semantic) != 1 || semantic[0].Type != soma.Semantic {
			t.Fatalf("%+v %v", semantic, err)
		}
	})
	t.Run("graph", func(t *testing.T) {
		for _, l := range []soma.LinkRequest{
			{From: soma.Coordinate{1, 2, 3}, To: soma.Coordinate{4}, Type: "next"},
			{From: soma.Coordinate{4}, To: soma.Coordinate{5}, Weight: soma.Weight(1)},
			{From: soma.Coordinate{1, 2, 3}, To: soma.Coordinate{5}, Weight: soma.Weight(5)},
		} {
			if _, err := s.Link(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		edges, err := s.Neighbors(ctx, soma.Coordinate{1, 2, 3}, soma.NeighborsOptions{})
		if err != nil || len(edges) != 2 || edges[0].Type != "next" || !edges[0].To.Equal(soma.Coordinate{4}) || edges[0].Timestamp.IsZero() {
			t.Fatalf("%+v %v", edges, err)
		}
		if edges[0].Weight != soma.DefaultLinkWeight || edges[1].Weight != 5 {
			t.Fatalf("weights %v and %v, want the default %v for none and 5", edges[0].Weight, edges[1].Weight, soma.DefaultLinkWeight)
		}
		path, err := s.ShortestPath(ctx, soma.Coordinate{1, 2, 3}, soma.Coordinate{5}, "")
		if err != nil || fmt.Sprint(path) != "[1,2,3 4 5]" {
			t.Fatalf("%v %v", path, err)
		}
		if _, err := s.Unlink(ctx, soma.Coordinate{4}, soma.Coordinate{5}); err != nil {
			t.Fatal(err)
		}
		path, err = s.ShortestPath(ctx, soma.Coordinate{1, 2, 3}, soma.Coordinate{5}, "")
		if err != nil || fmt.Sprint(path) != "[1,2,3 5]" {
			t.Fatalf("after unlink: %v %v", path, err)
		}
	})
	t.Run("range_stats_get_importance", func(t *testing.T) {
		cs, err := s.Range(ctx, soma.RangeRequest{Min: soma.Coordinate{4}, Max: soma.Coordinate{5}})
		if err != nil || fmt.Sprint(cs) != "[4 5]" {
			t.Fatalf("%v %v", cs, err)
		}
		st, err := s.Stats(ctx)
		if err != nil || st.TotalMemories != 4 || st.Semantic != 1 || st.Episodic != 3 {
			t.Fatalf("%+v %v", st, err)
		}
		imp, err := s.SetImportance(ctx, soma.Coordinate{4}, 100)
		if err != nil || imp.ImportanceNorm < 0 || imp.ImportanceNorm > 1 {
			t.Fatalf("%+v %v", imp, err)
		}
		rec, err := s.Get(ctx, soma.Coordinate{4})
		if err != nil || rec.ImportanceNorm != imp.ImportanceNorm || rec.Payload["team"] != "x" {
			t.Fatalf("%+v %v", rec, err)
		}
	})
	t.Run("errors_match_the_sentinels", func(t *testing.T) {
		cases := []struct {
			name string
			err  error
			want error
		}{
			{"nan_coordinate_is_invalid", func() error {
				_, err := s.Store(ctx, soma.StoreRequest{Coordinate: soma.Coordinate{math.NaN()}})
				return err
			}(), soma.ErrInvalid},
			{"link_from_missing_is_not_found", func() error {
				_, err := s.Link(ctx, soma.LinkRequest{From: soma.Coordinate{99}, To: soma.Coordinate{4}})
				return err
			}(), soma.ErrNotFound},
			{"get_missing_is_not_found", func() error { _, err := s.Get(ctx, soma.Coordinate{99}); return err }(), soma.ErrNotFound},
			{"top_k_out_of_range_is_invalid", func() error {
				_, err := s.Recall(ctx, soma.RecallRequest{Query: "x", TopK: 5000})
				return err
			}(), soma.ErrInvalid},
			{"negative_weight_is_invalid", func() error {
				_, err := s.Link(ctx, soma.LinkRequest{From: soma.Coordinate{4}, To: soma.Coordinate{5}, Weight: soma.Weight(-1)})
				return err
			}(), soma.ErrInvalid},
		}
		for _, c := range cases {
			if !errors.Is(c.err, c.want) {
				t.Errorf("%s: got %v, want %v", c.name, c.err, c.want)
			}
		}
	})
	t.Run("export_then_import_into_a_fresh_system_reproduces_records_and_links", func(t *testing.T) {
		var buf bytes.Buffer
		n, err := s.Export(ctx, &buf)
		if err != nil || n != 4 {
			t.Fatalf("%d %v", n, err)
		}
		fresh := openSystem(t, soma.Config{Mode: soma.ModeTest, Namespace: "copy", Settings: quiet()})
		res, err := fresh.Import(ctx, bytes.NewReader(buf.Bytes()), false)
		if err != nil || res.Imported != 4 || res.Links != 2 {
			t.Fatalf("%+v %v", res, err)
		}
		var again bytes.Buffer
		if _, err := fresh.Export(ctx, &again); err != nil {
			t.Fatal(err)
		}
		// Same payloads, coordinates and links; importance_norm and edge
		// timestamps are recomputed by the importing system.
		if a, b := stripVolatile(buf.String()), stripVolatile(again.String()); a != b {
			t.Fatalf("export differs after import:\n%s\n---\n%s", a, b)
		}
	})
	t.Run("delete_and_delete_many", func(t *testing.T) {
		d, err := s.Delete(ctx, soma.Coordinate{5})
		if err != nil || d.Deleted != 1 {
			t.Fatalf("%+v %v", d, err)
		}
		d, err = s.DeleteMany(ctx, []soma.Coordinate{{4}, {5}, {77}})
		if err != nil || d.Deleted != 1 {
			t.Fatalf("%+v %v", d, err)
		}
		got, err := s.Recall(ctx, soma.RecallRequest{Query: "quantum physics lecture notes", TopK: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range got {
			if r.Coordinate.Equal(soma.Coordinate{4}) || r.Coordinate.Equal(soma.Coordinate{5}) {
				t.Fatalf("deleted memory recalled: %+v", r)
			}
		}
	})
}

// stripVolatile drops the fields an import recomputes from NDJSON export
// lines: importance_norm of records and timestamp of edges.
func stripVolatile(ndjson string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(ndjson), "\n") {
		if strings.HasPrefix(line, `{"link":`) {
			if i := strings.Index(line, `"timestamp":`); i >= 0 {
				j := strings.IndexAny(line[i:], ",}")
				line = line[:i] + line[i+j+1:]
			}
		} else if i := strings.Index(line, `"importance_norm":`); i >= 0 {
			j := strings.IndexAny(line[i:], ",}")
			line = line[:i] + line[i+j+1:]
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

func TestOpenRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  soma.Config
	}{
		{"unknown_setting", soma.Config{Mode: soma.ModeTest, Settings: map[string]string{"POSTGRES_ULR": "x"}}},
		{"bad_mode", soma.Config{Mode: "production-ish"}},
		{"bad_number", soma.Config{Mode: soma.ModeTest, Settings: map[string]string{"SOMA_VECTOR_DIM": "many"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := soma.Open(context.Background(), c.cfg)
			if err == nil {
				_ = s.Close()
				t.Fatal("opened")
			}
			if !errors.Is(err, soma.ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
		})
	}
}

// TestSystemEvented wires the library to the external services (Kafka,
// Postgres, Redis, schema registry, Qdrant): writes go through the log and
// the projection workers, and the System's own reads still see its writes.
func TestSystemEvented(t *testing.T) {
	s := openSystem(t, soma.Config{Mode: soma.ModeEventedEnterprise, Namespace: "lib", DataDir: t.TempDir(), Settings: teststack.Evented(t, "lib")})
	ctx := context.Background()
	for i := range 20 {
		text := fmt.Sprintf("evented memory %d %s", i, uuid.NewString())
		if _, err := s.Store(ctx, soma.StoreRequest{Coordinate: soma.Coordinate{float64(i)}, Payload: map[string]any{"text": text}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Recall(ctx, soma.RecallRequest{Query: text, TopK: 1})
		if err != nil || len(got) != 1 || got[0].Payload["text"] != text {
			t.Fatalf("recall %d right after store: %+v %v", i, got, err)
		}
	}
	if _, err := s.Link(ctx, soma.LinkRequest{From: soma.Coordinate{0}, To: soma.Coordinate{1}, Weight: soma.Weight(2)}); err != nil {
		t.Fatal(err)
	}
	path, err := s.ShortestPath(ctx, soma.Coordinate{0}, soma.Coordinate{1}, "")
	if err != nil || len(path) != 2 {
		t.Fatalf("%v %v", path, err)
	}
	st, err := s.Stats(ctx)
	if err != nil || st.TotalMemories != 20 {
		t.Fatalf("%+v %v", st, err)
	}
}
