package vectorindex

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
)

// minRowsPerWorker is the smallest share of rows worth a goroutine of its
// own (a few hundred microseconds of scanning).
const minRowsPerWorker = 4096

// ctxCheckRows is how often (in rows) a scan looks at its context.
const ctxCheckRows = 16384

// Flat is the exact index: every row of the query's namespace is scored.
//
// Storage is one segment per namespace, each a contiguous []float32 slab
// (row i at [i*dim, (i+1)*dim)) beside compact per-row metadata (inverse
// norm, importance, type code, key, filterable payload fields) and a key→row
// map. A delete moves the segment's last row into the hole, so slabs stay
// dense and no stale vector survives a delete or a re-store.
//
// A search splits the namespace's rows across up to GOMAXPROCS
// goroutines; each keeps its own top-k min-heap, and the heaps are merged.
// Searches run concurrently with each other (read lock); Upsert and Delete
// take the write lock.
type Flat struct {
	model string
	dim   int

	mu        sync.RWMutex
	segs      map[string]*segment
	types     map[string]uint8 // memory type → code (0 is the empty type)
	typeNames []string
	n         int
}

type segment struct {
	vecs   []float32 // len(keys)*dim
	inv    []float32 // 1/|v|, 0 for the zero vector
	imp    []float64
	typ    []uint8
	keys   []string
	fields []Fields
	rows   map[string]int32
}

var _ Index = (*Flat)(nil)

// NewFlat returns an empty exact index of vectors of model (an embedding
// model id such as "hash-v1/384") and dimension dim > 0.
func NewFlat(model string, dim int) (*Flat, error) {
	if dim <= 0 {
		return nil, fmt.Errorf("vectorindex: dimension %d, want > 0", dim)
	}
	return &Flat{
		model:     model,
		dim:       dim,
		segs:      map[string]*segment{},
		types:     map[string]uint8{"": 0},
		typeNames: []string{""},
	}, nil
}

// Model is the embedding model of the index.
func (f *Flat) Model() string { return f.model }

// Dim is the dimension of the index.
func (f *Flat) Dim() int { return f.dim }

// Len is the number of rows.
func (f *Flat) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.n
}

// Reserve makes room for n more rows of namespace without growing the
// slab again (used when loading).
func (f *Flat) Reserve(namespace string, n int) {
	if n <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.seg(namespace)
	s.vecs = slices.Grow(s.vecs, n*f.dim)
	s.inv = slices.Grow(s.inv, n)
	s.imp = slices.Grow(s.imp, n)
	s.typ = slices.Grow(s.typ, n)
	s.keys = slices.Grow(s.keys, n)
	s.fields = slices.Grow(s.fields, n)
}

func (f *Flat) seg(ns string) *segment {
	s, ok := f.segs[ns]
	if !ok {
		s = &segment{rows: map[string]int32{}}
		f.segs[ns] = s
	}
	return s
}

func (f *Flat) typeCode(t string) (uint8, error) {
	if c, ok := f.types[t]; ok {
		return c, nil
	}
	if len(f.typeNames) > math.MaxUint8 {
		return 0, fmt.Errorf("vectorindex: more than %d memory types", math.MaxUint8)
	}
	c := uint8(len(f.typeNames)) // #nosec G115 -- at most math.MaxUint8, checked above
	f.types[t] = c
	f.typeNames = append(f.typeNames, t)
	return c, nil
}

func (f *Flat) check(e Entry) error {
	if len(e.Vector) != f.dim {
		return fmt.Errorf("%w: %s/%s has %d dimensions, the index %d", ErrInvalidVector, e.Namespace, e.Key, len(e.Vector), f.dim)
	}
	for i, x := range e.Vector {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("%w: %s/%s value %d is not finite", ErrInvalidVector, e.Namespace, e.Key, i)
		}
	}
	if math.IsNaN(e.ImportanceNorm) || math.IsInf(e.ImportanceNorm, 0) {
		return fmt.Errorf("%w: %s/%s importance_norm is not finite", ErrInvalidVector, e.Namespace, e.Key)
	}
	return nil
}

// Upsert inserts or replaces rows; nothing changes when an entry is
// invalid (wrong dimension, non-finite value).
func (f *Flat) Upsert(entries ...Entry) error {
	return f.Update(nil, entries)
}

// Update deletes the rows of deletes, then upserts entries, atomically
// with respect to Search: a search sees all of it or none of it. Nothing
// changes when an entry is invalid.
func (f *Flat) Update(deletes []ID, entries []Entry) error {
	for _, e := range entries {
		if err := f.check(e); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// Type codes first, so that a failure leaves the rows untouched.
	codes := make([]uint8, len(entries))
	for i, e := range entries {
		c, err := f.typeCode(e.Type)
		if err != nil {
			return err
		}
		codes[i] = c
	}
	for _, id := range deletes {
		f.deleteLocked(id)
	}
	for i, e := range entries {
		s := f.seg(e.Namespace)
		inv := invNorm(e.Vector)
		if r, ok := s.rows[e.Key]; ok {
			copy(s.vecs[int(r)*f.dim:(int(r)+1)*f.dim], e.Vector)
			s.inv[r], s.imp[r], s.typ[r], s.fields[r] = inv, e.ImportanceNorm, codes[i], e.Fields
			continue
		}
		s.rows[e.Key] = int32(len(s.keys)) // #nosec G115 -- 2^31 rows of one namespace would need 2^31·dim·4 bytes of vectors in this process
		s.vecs = append(s.vecs, e.Vector...)
		s.inv = append(s.inv, inv)
		s.imp = append(s.imp, e.ImportanceNorm)
		s.typ = append(s.typ, codes[i])
		s.keys = append(s.keys, e.Key)
		s.fields = append(s.fields, e.Fields)
		f.n++
	}
	return nil
}

func invNorm(v []float32) float32 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return 0
	}
	return float32(1 / math.Sqrt(ss))
}

// Delete removes rows (swap-remove) and returns how many existed.
func (f *Flat) Delete(ids ...ID) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, id := range ids {
		if f.deleteLocked(id) {
			n++
		}
	}
	return n
}

func (f *Flat) deleteLocked(id ID) bool {
	s, ok := f.segs[id.Namespace]
	if !ok {
		return false
	}
	r, ok := s.rows[id.Key]
	if !ok {
		return false
	}
	f.n--
	delete(s.rows, id.Key)
	last := len(s.keys) - 1
	if int(r) != last {
		copy(s.vecs[int(r)*f.dim:(int(r)+1)*f.dim], s.vecs[last*f.dim:])
		s.inv[r], s.imp[r], s.typ[r], s.keys[r], s.fields[r] = s.inv[last], s.imp[last], s.typ[last], s.keys[last], s.fields[last]
		s.rows[s.keys[r]] = r
	}
	s.keys[last], s.fields[last] = "", nil // let the GC have them
	s.vecs = s.vecs[:last*f.dim]
	s.inv, s.imp, s.typ, s.keys, s.fields = s.inv[:last], s.imp[:last], s.typ[:last], s.keys[:last], s.fields[:last]
	if last == 0 {
		delete(f.segs, id.Namespace)
	} else if cap(s.keys) >= 1024 && cap(s.keys) > 4*last {
		s.shrink()
	}
	return true
}

// shrink gives back the memory of a segment that lost most of its rows.
func (s *segment) shrink() {
	s.vecs = slices.Clip(slices.Clone(s.vecs))
	s.inv = slices.Clone(s.inv)
	s.imp = slices.Clone(s.imp)
	s.typ = slices.Clone(s.typ)
	s.keys = slices.Clone(s.keys)
	s.fields = slices.Clone(s.fields)
}

// Get returns the row of id (a copy of its vector as stored).
func (f *Flat) Get(id ID) (Entry, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s, ok := f.segs[id.Namespace]
	if !ok {
		return Entry{}, false
	}
	r, ok := s.rows[id.Key]
	if !ok {
		return Entry{}, false
	}
	return Entry{
		ID:             id,
		Type:           f.typeNames[s.typ[r]],
		ImportanceNorm: s.imp[r],
		Fields:         s.fields[r],
		Vector:         slices.Clone(s.vecs[int(r)*f.dim : (int(r)+1)*f.dim]),
	}, true
}

// IDs returns the ids of every row, sorted by namespace then key.
func (f *Flat) IDs() []ID {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]ID, 0, f.n)
	for ns, s := range f.segs {
		for _, k := range s.keys {
			out = append(out, ID{Namespace: ns, Key: k})
		}
	}
	slices.SortFunc(out, func(a, b ID) int { return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Key, b.Key)) })
	return out
}

// Search scores every row of q.Namespace that passes the type and payload
// filters and returns the q.TopK best.
func (f *Flat) Search(ctx context.Context, q Query) ([]Result, error) {
	if q.TopK < 1 {
		return nil, fmt.Errorf("%w: top k %d, want at least 1", ErrInvalidQuery, q.TopK)
	}
	if (q.Model != "" && q.Model != f.model) || len(q.Vector) != f.dim {
		return nil, fmt.Errorf("%w: query of %q with %d dimensions, index of %q with %d", ErrModelMismatch, q.Model, len(q.Vector), f.model, f.dim)
	}
	var ss float64
	for i, x := range q.Vector {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("%w: query value %d is not finite", ErrInvalidVector, i)
		}
		ss += float64(x) * float64(x)
	}
	qinv := 0.0
	if ss > 0 {
		qinv = 1 / math.Sqrt(ss)
	}
	filters, ok := compileFilters(q.Filters)
	if !ok {
		return []Result{}, nil
	}

	f.mu.RLock()
	defer f.mu.RUnlock()
	s, ok := f.segs[q.Namespace]
	if !ok {
		return []Result{}, nil
	}
	sc := scan{dim: f.dim, seg: s, q: q.Vector, qinv: qinv, filters: filters, k: q.TopK}
	if q.Type != "" {
		c, ok := f.types[q.Type]
		if !ok {
			return []Result{}, nil
		}
		sc.typ, sc.byType = c, true
	}

	rows := len(s.keys)
	workers := min(runtime.GOMAXPROCS(0), rows/minRowsPerWorker)
	var cands []cand
	if workers <= 1 {
		h := sc.run(ctx, 0, rows)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cands = h.items
	} else {
		heaps := make([]topK, workers)
		var wg sync.WaitGroup
		for w := range workers {
			lo, hi := rows*w/workers, rows*(w+1)/workers
			wg.Go(func() { heaps[w] = sc.run(ctx, lo, hi) })
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, h := range heaps {
			cands = append(cands, h.items...)
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(s.keys[a.row], s.keys[b.row]))
	})
	cands = cands[:min(len(cands), q.TopK)]
	out := make([]Result, len(cands))
	for i, c := range cands {
		out[i] = Result{Key: s.keys[c.row], Cosine: c.cos, ImportanceNorm: s.imp[c.row], Score: c.score}
	}
	return out, nil
}

// scan is one search over one segment.
type scan struct {
	dim     int
	seg     *segment
	q       []float32
	qinv    float64
	byType  bool
	typ     uint8
	filters Fields
	k       int
}

type cand struct {
	score, cos float64
	row        int32
}

// run scores rows [lo, hi) and returns their top k.
func (sc *scan) run(ctx context.Context, lo, hi int) topK {
	s, dim := sc.seg, sc.dim
	h := topK{k: sc.k, keys: s.keys, items: make([]cand, 0, min(sc.k, hi-lo))}
	done := ctx.Done()
	for start := lo; start < hi; start += ctxCheckRows {
		if done != nil && start > lo {
			select {
			case <-done:
				return h
			default:
			}
		}
		for r := start; r < min(start+ctxCheckRows, hi); r++ {
			if sc.byType && s.typ[r] != sc.typ {
				continue
			}
			imp := s.imp[r]
			// cosine ≤ 1, so a row cannot score above its importance.
			if len(h.items) == sc.k && imp < h.items[0].score {
				continue
			}
			if len(sc.filters) > 0 && !s.fields[r].matches(sc.filters) {
				continue
			}
			cos := float64(dot(sc.q, s.vecs[r*dim:(r+1)*dim])) * float64(s.inv[r]) * sc.qinv
			cos = max(-1, min(1, cos))
			h.push(cand{score: max(0, cos) * imp, cos: cos, row: int32(r)}) // #nosec G115 -- r is a row of the segment, whose rows are int32
		}
	}
	return h
}

// topK is a min-heap of the best k candidates: the root is the worst kept
// (lowest score; among equal scores, the greatest key).
type topK struct {
	k     int
	keys  []string
	items []cand
}

// worse reports whether a ranks below b.
func (h *topK) worse(a, b cand) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return h.keys[a.row] > h.keys[b.row]
}

func (h *topK) push(c cand) {
	if len(h.items) < h.k {
		h.items = append(h.items, c)
		i := len(h.items) - 1
		for i > 0 {
			p := (i - 1) / 2
			if !h.worse(h.items[i], h.items[p]) {
				break
			}
			h.items[i], h.items[p] = h.items[p], h.items[i]
			i = p
		}
		return
	}
	if !h.worse(h.items[0], c) {
		return
	}
	h.items[0] = c
	i, n := 0, len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.worse(h.items[r], h.items[l]) {
			m = r
		}
		if !h.worse(h.items[m], h.items[i]) {
			break
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
}
