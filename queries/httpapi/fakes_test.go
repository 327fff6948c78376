package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/queries"
)

// world is an in-memory read model implementing every query port with
// the semantics queries/ports.go documents (the adapters are held to them
// by contract tests against the real services).
type world struct {
	mu        sync.Mutex
	model     string
	mems      map[string]domain.Memory // ns/key
	vecs      map[string][]float32
	links     map[string][]domain.Link
	exportErr error // returned after the first exported record
}

func newWorld() *world {
	return &world{model: "test/3", mems: map[string]domain.Memory{}, vecs: map[string][]float32{}, links: map[string][]domain.Link{}}
}

func wk(ns string, c domain.Coordinate) string { return ns + "/" + c.Key() }

func (w *world) put(ns string, c domain.Coordinate, typ domain.MemoryType, norm float64, vec []float32, payload map[string]any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mems[wk(ns, c)] = domain.Memory{Namespace: ns, Coordinate: c, Type: typ, Payload: payload, ImportanceNorm: norm}
	w.vecs[wk(ns, c)] = vec
}

func (w *world) link(ns string, from, to domain.Coordinate, typ string, weight float64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.links[wk(ns, from)] = append(w.links[wk(ns, from)], domain.Link{From: from, To: to, Type: typ, Weight: weight, CreatedAt: time.Unix(1700000000, 250000000)})
}

func (w *world) Search(_ context.Context, q queries.VectorQuery) ([]queries.Hit, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if q.EmbeddingModel != w.model {
		return nil, fmt.Errorf("collection of %s: %w", w.model, queries.ErrModelMismatch)
	}
	var hits []queries.Hit
	for k, m := range w.mems {
		if m.Namespace != q.Namespace || (q.Type != "" && m.Type != q.Type) || !filtersHold(m.Payload, q.Filters) {
			continue
		}
		v := w.vecs[k]
		var dot, na, nb float64
		for i := range v {
			dot += float64(v[i]) * float64(q.Vector[i])
			na += float64(v[i]) * float64(v[i])
			nb += float64(q.Vector[i]) * float64(q.Vector[i])
		}
		cos := dot / math.Sqrt(na*nb)
		hits = append(hits, queries.Hit{Coordinate: m.Coordinate, Cosine: cos, ImportanceNorm: m.ImportanceNorm, Score: max(0, cos) * m.ImportanceNorm})
	}
	slices.SortFunc(hits, func(a, b queries.Hit) int {
		if a.Score != b.Score {
			if a.Score > b.Score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Coordinate.Key(), b.Coordinate.Key())
	})
	return hits[:min(len(hits), q.TopK)], nil
}

func filtersHold(payload, filters map[string]any) bool {
	for k, want := range filters {
		got, ok := payload[k]
		if !ok {
			return false
		}
		if f, isNum := want.(float64); isNum {
			n, isJSONNum := got.(json.Number)
			g, err := strconv.ParseFloat(string(n), 64)
			if !isJSONNum || err != nil || g != f {
				return false
			}
			continue
		}
		if got != want {
			return false
		}
	}
	return true
}

func (w *world) Records(_ context.Context, ns string, keys []string) (map[string]domain.Memory, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]domain.Memory{}
	for _, k := range keys {
		if m, ok := w.mems[ns+"/"+k]; ok {
			out[k] = m
		}
	}
	return out, nil
}

func (w *world) Neighbors(_ context.Context, ns string, from domain.Coordinate, linkType string, limit int) ([]domain.Link, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []domain.Link
	for _, l := range w.links[wk(ns, from)] {
		if len(out) < limit && (linkType == "" || l.Type == linkType) {
			out = append(out, l)
		}
	}
	return out, nil
}

func (w *world) OutEdges(_ context.Context, ns string, keys []string, linkType string) (map[string][]domain.Link, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string][]domain.Link{}
	for _, k := range keys {
		for _, l := range w.links[ns+"/"+k] {
			if linkType == "" || l.Type == linkType {
				out[k] = append(out[k], l)
			}
		}
	}
	return out, nil
}

func (w *world) sorted(ns string) []domain.Memory {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []domain.Memory
	for _, m := range w.mems {
		if m.Namespace == ns {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b domain.Memory) int { return strings.Compare(a.Coordinate.Key(), b.Coordinate.Key()) })
	return out
}

func (w *world) Range(_ context.Context, ns string, lo, hi domain.Coordinate, typ domain.MemoryType, _ int) ([]domain.Coordinate, error) {
	var out []domain.Coordinate
	for _, m := range w.sorted(ns) {
		if (typ == "" || m.Type == typ) && m.Coordinate.InRange(lo, hi) {
			out = append(out, m.Coordinate)
		}
	}
	return out, nil
}

func (w *world) Counts(_ context.Context, ns string) (queries.Stats, error) {
	var s queries.Stats
	for _, m := range w.sorted(ns) {
		s.Total++
		if m.Type == domain.Semantic {
			s.Semantic++
		} else {
			s.Episodic++
		}
	}
	return s, nil
}

func (w *world) Export(_ context.Context, ns string, fn func(domain.Memory) error) error {
	for i, m := range w.sorted(ns) {
		if i == 1 && w.exportErr != nil {
			return w.exportErr
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

func (w *world) History(_ context.Context, ns string, c domain.Coordinate, limit int) ([]queries.HistoryEntry, error) {
	if _, ok := w.mems[wk(ns, c)]; !ok {
		return nil, nil
	}
	return []queries.HistoryEntry{{EventID: "e-1", EventType: domain.EventMemoryStored, OccurredAt: "2024-01-02T03:04:05Z", Source: "memory.events", Partition: 2, Offset: 9, Event: map[string]any{"memory_type": "episodic"}}}[:min(1, limit)], nil
}

// embedder maps known texts to vectors, others to [1,0,0].
type embedder struct {
	vecs map[string][]float32
	err  error
}

func (e *embedder) Model() string { return "test/3" }
func (e *embedder) Dim() int      { return 3 }
func (e *embedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	if e.err != nil {
		return nil, e.err
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if v, ok := e.vecs[t]; ok {
			out[i] = v
		} else {
			out[i] = []float32{1, 0, 0}
		}
	}
	return out, nil
}

// positions is a PositionReader with fixed offsets.
type positions struct {
	mu  sync.Mutex
	pos map[int32]int64
}

func (p *positions) Positions(context.Context, string) (map[int32]int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[int32]int64{}
	for k, v := range p.pos {
		out[k] = v
	}
	return out, nil
}
