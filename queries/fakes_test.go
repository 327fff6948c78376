package queries_test

import (
	"context"
	"encoding/json"
	"errors"
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

// These in-memory read models implement the query ports with the
// semantics the ports document; the real adapters are held to the same
// semantics by their own contract tests against the real services.

const testModel = "test/3"

// vecEmbedder maps known texts to fixed vectors; other texts get [1,0,0].
type vecEmbedder struct {
	mu    sync.Mutex
	vecs  map[string][]float32
	calls [][]string
	err   error
}

func (e *vecEmbedder) Model() string { return testModel }
func (e *vecEmbedder) Dim() int      { return 3 }
func (e *vecEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, slices.Clone(texts))
	if e.err != nil {
		return nil, e.err
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v, ok := e.vecs[t]
		if !ok {
			v = []float32{1, 0, 0}
		}
		out[i] = v
	}
	return out, nil
}

// store is one namespace-aware in-memory read model holding records,
// vectors and the graph.
type store struct {
	mu    sync.Mutex
	model string
	mems  map[string]domain.Memory // ns/key
	vecs  map[string][]float32     // ns/key
	links map[string][]domain.Link // ns/fromKey, insertion order

	recordsErr  error
	countsErr   error
	searchCalls int
	outEdgeKeys [][]string
}

func newStore() *store {
	return &store{model: testModel, mems: map[string]domain.Memory{}, vecs: map[string][]float32{}, links: map[string][]domain.Link{}}
}

func nk(ns, key string) string { return ns + "/" + key }

func coord(vals ...float64) domain.Coordinate { return domain.MustCoordinate(vals...) }

// put stores a memory; vec may be nil (record without a vector).
func (s *store) put(ns string, c domain.Coordinate, typ domain.MemoryType, norm float64, vec []float32, payload map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if payload == nil {
		payload = map[string]any{}
	}
	s.mems[nk(ns, c.Key())] = domain.Memory{Namespace: ns, Coordinate: c, Type: typ, Payload: payload, ImportanceNorm: norm, Version: 1}
	if vec != nil {
		s.vecs[nk(ns, c.Key())] = vec
	}
}

// dropRecord removes a record but leaves its vector (a delete seen by the
// vector index later than by the record stores).
func (s *store) dropRecord(ns string, c domain.Coordinate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mems, nk(ns, c.Key()))
}

func (s *store) link(ns string, from, to domain.Coordinate, typ string, w float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := nk(ns, from.Key())
	l := domain.Link{From: from, To: to, Type: typ, Weight: w, CreatedAt: time.Unix(1700000000, 500000000)}
	for i, e := range s.links[k] {
		if e.To.Equal(to) {
			s.links[k][i] = l
			return
		}
	}
	s.links[k] = append(s.links[k], l)
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// Search applies namespace, type and filters first, then scores, orders
// and cuts: filters come before the top-k cut.
func (s *store) Search(_ context.Context, q queries.VectorQuery) ([]queries.Hit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.searchCalls++
	if q.EmbeddingModel != s.model {
		return nil, fmt.Errorf("index of %s, query of %s: %w", s.model, q.EmbeddingModel, queries.ErrModelMismatch)
	}
	var hits []queries.Hit
	for k, v := range s.vecs {
		m, ok := s.memAt(k)
		if !ok || m.Namespace != q.Namespace {
			continue
		}
		if q.Type != "" && m.Type != q.Type {
			continue
		}
		if !matchFilters(m.Payload, q.Filters) {
			continue
		}
		cos := cosine(q.Vector, v)
		hits = append(hits, queries.Hit{Coordinate: m.Coordinate, Cosine: cos, ImportanceNorm: m.ImportanceNorm, Score: max(0, cos) * m.ImportanceNorm})
	}
	slices.SortFunc(hits, func(a, b queries.Hit) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return strings.Compare(a.Coordinate.Key(), b.Coordinate.Key())
	})
	if len(hits) > q.TopK {
		hits = hits[:q.TopK]
	}
	return hits, nil
}

// memAt finds the memory a vector belongs to, including records dropped
// from the record view (the vector index keeps its own payload copy).
func (s *store) memAt(k string) (domain.Memory, bool) {
	if m, ok := s.mems[k]; ok {
		return m, true
	}
	ns, key, _ := strings.Cut(k, "/")
	c, err := domain.ParseCoordinate(key)
	if err != nil {
		return domain.Memory{}, false
	}
	return domain.Memory{Namespace: ns, Coordinate: c, Type: domain.Episodic, Payload: map[string]any{}, ImportanceNorm: 1}, true
}

func matchFilters(payload, filters map[string]any) bool {
	for k, want := range filters {
		got, ok := payload[k]
		if !ok {
			return false
		}
		switch w := want.(type) {
		case float64:
			g, ok := num(got)
			if !ok || g != w {
				return false
			}
		case nil:
			if got != nil {
				return false
			}
		default:
			if got != want {
				return false
			}
		}
	}
	return true
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	case float64:
		return x, true
	case int:
		return float64(x), true
	}
	return 0, false
}

func (s *store) Records(_ context.Context, ns string, keys []string) (map[string]domain.Memory, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recordsErr != nil {
		return nil, s.recordsErr
	}
	out := map[string]domain.Memory{}
	for _, k := range keys {
		if m, ok := s.mems[nk(ns, k)]; ok {
			out[k] = m
		}
	}
	return out, nil
}

func (s *store) Neighbors(_ context.Context, ns string, from domain.Coordinate, linkType string, limit int) ([]domain.Link, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []domain.Link
	for _, l := range s.links[nk(ns, from.Key())] {
		if len(out) >= limit {
			break
		}
		if linkType == "" || l.Type == linkType {
			out = append(out, l)
		}
	}
	return out, nil
}

func (s *store) OutEdges(_ context.Context, ns string, fromKeys []string, linkType string) (map[string][]domain.Link, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outEdgeKeys = append(s.outEdgeKeys, slices.Clone(fromKeys))
	out := map[string][]domain.Link{}
	for _, k := range fromKeys {
		for _, l := range s.links[nk(ns, k)] {
			if linkType == "" || l.Type == linkType {
				out[k] = append(out[k], l)
			}
		}
	}
	return out, nil
}

func (s *store) sorted(ns string) []domain.Memory {
	var out []domain.Memory
	for _, m := range s.mems {
		if m.Namespace == ns {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b domain.Memory) int { return strings.Compare(a.Coordinate.Key(), b.Coordinate.Key()) })
	return out
}

func (s *store) Range(_ context.Context, ns string, lo, hi domain.Coordinate, typ domain.MemoryType, limit int) ([]domain.Coordinate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []domain.Coordinate
	for _, m := range s.sorted(ns) {
		if (typ == "" || m.Type == typ) && m.Coordinate.InRange(lo, hi) {
			out = append(out, m.Coordinate)
			if limit > 0 && len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

func (s *store) Counts(_ context.Context, ns string) (queries.Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.countsErr != nil {
		return queries.Stats{}, s.countsErr
	}
	var st queries.Stats
	for _, m := range s.sorted(ns) {
		st.Total++
		if m.Type == domain.Semantic {
			st.Semantic++
		} else {
			st.Episodic++
		}
	}
	return st, nil
}

func (s *store) Export(_ context.Context, ns string, fn func(domain.Memory) error) error {
	s.mu.Lock()
	mems := s.sorted(ns)
	s.mu.Unlock()
	for _, m := range mems {
		if err := fn(m); err != nil {
			return fmt.Errorf("export walk: %w", err)
		}
	}
	return nil
}

func (s *store) History(_ context.Context, ns string, c domain.Coordinate, limit int) ([]queries.HistoryEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mems[nk(ns, c.Key())]
	if !ok || limit < 1 {
		return nil, nil
	}
	return []queries.HistoryEntry{{
		EventID: "e1", EventType: domain.EventMemoryStored, OccurredAt: "2024-01-02T03:04:05Z",
		Source: "memory.events", Partition: 0, Offset: 7,
		Event: map[string]any{"coordinate": m.Coordinate.Values()},
	}}, nil
}

// positions is a PositionReader whose offsets the test advances. Every
// read is announced on reads (when set) after the offsets were read.
type positions struct {
	mu    sync.Mutex
	pos   map[int32]int64
	err   error
	reads chan struct{}
}

func newPositions(pos map[int32]int64) *positions {
	return &positions{pos: pos, reads: make(chan struct{}, 64)}
}

func (p *positions) Positions(_ context.Context, _ string) (map[int32]int64, error) {
	p.mu.Lock()
	out := make(map[int32]int64, len(p.pos))
	for k, v := range p.pos {
		out[k] = v
	}
	err := p.err
	p.mu.Unlock()
	select {
	case p.reads <- struct{}{}:
	default:
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (p *positions) set(part int32, off int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pos[part] = off
	p.err = nil
}

var errDown = errors.New("connection refused")
