package queries

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/somafractalmemory/soma/domain"
)

// Path search limits.
const (
	// DefaultMaxPathNodes bounds the nodes one shortest_path search
	// expands (Deps.MaxPathNodes); beyond it the search fails with
	// ErrSearchLimit instead of walking the whole graph.
	DefaultMaxPathNodes = 100000
	// pathExpandBatch is how many frontier nodes one Graph.OutEdges call
	// loads.
	pathExpandBatch = 256
)

// ShortestPath finds the cheapest directed path between two coordinates.
type ShortestPath struct {
	Caller
	From, To domain.Coordinate
	// LinkType follows only edges of this type when not blank (trimmed).
	LinkType string
}

// ShortestPathHandler handles ShortestPath.
type ShortestPathHandler struct{ c *core }

// Handle runs Dijkstra over the outgoing edges, each edge costing its
// weight (a weight that is not a finite number ≥ 0 costs 1, as a missing
// weight does). It returns the coordinates from From to To inclusive;
// [From] when both are the same coordinate (whether or not it holds a
// memory); an empty path when To cannot be reached or either end is
// unknown. Among paths of equal cost the one found first wins; nodes of
// equal distance are expanded in coordinate-key order, so answers are
// deterministic for a given graph.
//
// Adjacency is loaded in batches: when the search reaches a node whose
// edges are not loaded yet, that node and up to 255 other frontier nodes
// are loaded in one Graph.OutEdges call. A search that would load more
// than MaxPathNodes nodes fails with ErrSearchLimit.
func (h *ShortestPathHandler) Handle(ctx context.Context, q ShortestPath) ([]domain.Coordinate, error) {
	if h.c.graph == nil {
		return nil, notConfigured("graph")
	}
	if q.From.Equal(q.To) {
		return []domain.Coordinate{q.From}, nil
	}
	if err := h.c.await(ctx, q.Token, RoleGraph); err != nil {
		return nil, err
	}
	s := &pathSearch{
		graph: h.c.graph, ns: q.Namespace, linkType: strings.TrimSpace(q.LinkType), limit: h.c.maxPathNodes,
		dist: map[string]float64{}, prev: map[string]string{}, coords: map[string]domain.Coordinate{},
		settled: map[string]bool{}, loaded: map[string][]domain.Link{},
	}
	return s.run(ctx, q.From, q.To)
}

type pathSearch struct {
	graph    Graph
	ns       string
	linkType string
	limit    int

	dist    map[string]float64
	prev    map[string]string
	coords  map[string]domain.Coordinate
	settled map[string]bool
	// loaded holds the out-edges of loaded nodes not expanded yet;
	// nLoaded counts every node loaded so far.
	loaded  map[string][]domain.Link
	nLoaded int
	queue   pathQueue
}

func (s *pathSearch) run(ctx context.Context, from, to domain.Coordinate) ([]domain.Coordinate, error) {
	fromKey, toKey := from.Key(), to.Key()
	s.dist[fromKey] = 0
	s.coords[fromKey] = from
	heap.Push(&s.queue, pathItem{key: fromKey, dist: 0})
	for s.queue.Len() > 0 {
		it := heap.Pop(&s.queue).(pathItem)
		if s.settled[it.key] || it.dist > s.dist[it.key] {
			continue
		}
		s.settled[it.key] = true
		if it.key == toKey {
			return s.path(fromKey, toKey), nil
		}
		edges, ok := s.loaded[it.key]
		if !ok {
			if err := s.load(ctx, it.key); err != nil {
				return nil, err
			}
			edges = s.loaded[it.key]
		}
		delete(s.loaded, it.key)
		for _, e := range edges {
			if s.linkType != "" && e.Type != s.linkType {
				continue
			}
			k := e.To.Key()
			if s.settled[k] {
				continue
			}
			nd := it.dist + edgeCost(e.Weight)
			if d, seen := s.dist[k]; seen && nd >= d {
				continue
			}
			s.dist[k] = nd
			s.prev[k] = it.key
			s.coords[k] = e.To
			heap.Push(&s.queue, pathItem{key: k, dist: nd})
		}
	}
	return []domain.Coordinate{}, nil
}

// load fetches the out-edges of key and of other frontier nodes not
// loaded yet, in one call.
func (s *pathSearch) load(ctx context.Context, key string) error {
	keys := []string{key}
	picked := map[string]bool{key: true}
	for _, it := range s.queue {
		if len(keys) == pathExpandBatch {
			break
		}
		if picked[it.key] || s.settled[it.key] || it.dist > s.dist[it.key] {
			continue
		}
		if _, ok := s.loaded[it.key]; ok {
			continue
		}
		picked[it.key] = true
		keys = append(keys, it.key)
	}
	room := s.limit - s.nLoaded
	if room <= 0 {
		return fmt.Errorf("%w: no path found within %d nodes", ErrSearchLimit, s.limit)
	}
	keys = keys[:min(len(keys), room)]
	out, err := s.graph.OutEdges(ctx, s.ns, keys, s.linkType)
	if err != nil {
		return readErr("read edges", err)
	}
	for _, k := range keys {
		edges := out[k]
		if edges == nil {
			edges = []domain.Link{}
		}
		s.loaded[k] = edges
	}
	s.nLoaded += len(keys)
	return nil
}

// path walks prev back from toKey.
func (s *pathSearch) path(fromKey, toKey string) []domain.Coordinate {
	var rev []domain.Coordinate
	for k := toKey; ; k = s.prev[k] {
		rev = append(rev, s.coords[k])
		if k == fromKey {
			break
		}
	}
	out := make([]domain.Coordinate, len(rev))
	for i, c := range rev {
		out[len(rev)-1-i] = c
	}
	return out
}

// edgeCost is an edge's weight, or 1 when the weight is missing or not a
// finite number ≥ 0 (the write side never stores such weights).
func edgeCost(w float64) float64 {
	if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
		return 1
	}
	return w
}

type pathItem struct {
	key  string
	dist float64
}

// pathQueue is a min-heap on (dist, key).
type pathQueue []pathItem

func (q pathQueue) Len() int { return len(q) }
func (q pathQueue) Less(i, j int) bool {
	if q[i].dist != q[j].dist {
		return q[i].dist < q[j].dist
	}
	return q[i].key < q[j].key
}
func (q pathQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *pathQueue) Push(x any)   { *q = append(*q, x.(pathItem)) }
func (q *pathQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}
