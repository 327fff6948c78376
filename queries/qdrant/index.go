// Package qdrant is the recall side of the Qdrant read model
// (projections/qdrant): a queries.VectorIndex that ranks memories by the
// final score max(0, cosine) × importance_norm, and a
// queries.PositionReader over the checkpoints of the serving generation.
//
// # Ranking
//
// Qdrant ranks by cosine only, and the final score also depends on the
// payload (importance_norm ∈ [0,1]). Search therefore pages through the
// cosine ranking of the filtered namespace and rescores locally, stopping
// as soon as no unseen point can still enter the top k. The argument: an
// unseen point has a cosine at most that of the last point seen (b), so
// its score is at most max(0, b) × importance_norm ≤ max(0, b).
//
//   - Once the k-th best score seen (s_k) is strictly greater than
//     max(0, b), the answer is exact, ties included (an unseen point can at
//     best equal the bound, so it loses even on the coordinate key).
//   - Otherwise an unseen point can only enter with importance_norm ≥
//     s_k / b. Search then restarts the ranking with that floor as an extra
//     range filter (raised again while it prunes enough), so it reads the
//     important memories alone instead of paging deeper through the
//     unimportant ones. The floor only ever rises, since s_k does; what it
//     excludes scores strictly below s_k (a 1e-9 relative margin absorbs
//     rounding).
//
// Pages start at max(4k, 64) points and double (at most 8192 per request).
// Measured on the double (TestPagingCost: 3000 random 32-dimensional
// memories per namespace, 20 queries, k = 5 and 50), exact search read on
// average 64–400 points in at most 2 requests, where plain cosine paging
// to the same guarantee read up to 1600; a fixed oversample of max(4k, 64)
// returned a wrong top k for 19 of 20 queries when importances are skewed
// (k = 5), and for 14–20 of 20 at k = 50 unless all importances are equal.
//
// A fixed oversample (read k×m points by cosine, keep the best k by score)
// is exact only when every point of the true top k is within the first k×m
// by cosine: a memory with cosine c and importance n outranks one with
// c' > c and n' when c×n > c'×n', i.e. n/n' > c'/c, which a low
// importance_norm makes possible at any depth (n' → 0). No fixed m is safe,
// hence the bound. Qdrant's score-boosting formula queries (Query API
// "formula" over a "prefetch") have the same limit: the formula rescores
// only the prefetched points, so they are an oversample computed server
// side; the in-process double does not implement them either.
//
// Scores of 0 (cosine ≤ 0, or importance_norm 0) are still returned, last,
// ordered by coordinate key like every tie. When fewer than k memories
// score above 0 and the cosine ranking has reached 0, every unseen point
// scores 0 and only its coordinate key matters: the rest of the filtered
// namespace is scrolled (payload only, no vectors), the smallest keys are
// kept, and their cosines are read with one query restricted to their ids.
// That scan is linear in the namespace; it happens only when the namespace
// (after filters) holds fewer than k memories with a positive score.
//
// Exactness is relative to Qdrant's ranking: an approximate (HNSW) search
// that misses a near point misses it here too. Pages are read with offsets,
// not from a snapshot: a point written between two pages may be missed or
// seen twice (duplicates are dropped).
//
// # Filters
//
// Namespace (the tenant index) and memory type are keyword matches inside
// the search. Payload filters are equality on top-level keys of the client
// record (the "payload" object of a point, addressed by PayloadPath):
// strings and booleans exactly, numbers numerically (1 equals 1.0), null
// only an explicit null, arrays and objects element by element. Qdrant
// narrows the search with conditions every equal value satisfies (match
// keyword or bool, a range gte = lte for numbers because an integer match
// misses stored doubles, is_null, the scalar members of arrays and
// objects), and every candidate is then checked exactly against the
// record, since Qdrant's conditions also match arrays containing the
// value. Checked-out candidates never use a slot of the top k. A key
// Qdrant cannot address (empty, or containing '"' or '\') is refused with
// ErrInvalidQuery.
//
// # Embedding model
//
// An Index serves one embedding model. A query of another model is refused
// with queries.ErrModelMismatch before any I/O; a query vector whose
// dimension differs from the collection's is refused too (the dimension is
// read once, and again when a query's stops matching it or a search fails,
// so an alias switched to a generation of another dimension is noticed by
// the next query); and a point whose
// embedding_model payload names another model is reported as
// queries.ErrModelMismatch rather than ranked, since vectors of different
// models are never comparable.
package qdrant

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/somafractalmemory/soma/domain"
	projqdrant "github.com/somafractalmemory/soma/projections/qdrant"
	"github.com/somafractalmemory/soma/queries"
)

// Paging parameters of Search.
const (
	// oversample × k is the size of the first page, at least minPage.
	oversample = 4
	minPage    = 64
	// maxPage bounds one query's limit.
	maxPage = 8192
	// scrollPage is the page size of the zero-score scan.
	scrollPage = 1024
	// maxTopK is the largest k accepted (FEATURES §3).
	maxTopK = 1000
)

// ErrInvalidQuery is the cause of every field of the
// domain.ValidationErrors Search returns for a query it cannot run as
// given (top_k out of range, an empty, zero or non-finite vector, an
// unknown memory type, a filter key or value Qdrant cannot express).
// Nothing was read.
var ErrInvalidQuery = errors.New("invalid vector query")

// Index searches the serving collection (an alias) of the Qdrant read
// model. It is safe for concurrent use.
type Index struct {
	client     *qc.Client
	collection string
	model      string
	err        error
	// dim is the vector size of the collection behind the alias, 0 when
	// not read yet.
	dim atomic.Uint64
	// firstPage overrides the size of the first page, and trace observes
	// every request of a search (tests and measurements).
	firstPage int
	trace     func(traceEvent)
}

// traceEvent describes one request of a search.
type traceEvent struct {
	kind               string // "query", "scroll" or "cosines"
	threshold          float64
	offset, limit, got int
}

var (
	_ queries.VectorIndex    = (*Index)(nil)
	_ queries.PositionReader = (*Index)(nil)
)

// New returns the index of collection (the serving alias, normally
// projqdrant.DefaultCollection) for vectors of model. It does no I/O; with
// a nil client or an empty collection or model every call returns an
// error.
func New(client *qc.Client, collection string, model string) *Index {
	ix := &Index{client: client, collection: collection, model: model}
	var errs []error
	if client == nil {
		errs = append(errs, errors.New("nil client"))
	}
	if collection == "" {
		errs = append(errs, errors.New("empty collection"))
	}
	if model == "" {
		errs = append(errs, errors.New("empty embedding model"))
	}
	if len(errs) > 0 {
		ix.err = fmt.Errorf("qdrant index: %w", errors.Join(errs...))
	}
	return ix
}

// Model is the embedding model the index serves.
func (ix *Index) Model() string { return ix.model }

// candidate is a point read from Qdrant, rescored.
type candidate struct {
	id    string
	pid   *qc.PointId
	key   string
	cos   float64
	norm  float64
	score float64
}

// better orders candidates as results are ordered: score descending, then
// coordinate key ascending.
func better(a, b candidate) int {
	if c := cmp.Compare(b.score, a.score); c != 0 {
		return c
	}
	return cmp.Compare(a.key, b.key)
}

func score(cos, norm float64) float64 { return max(0, cos) * norm }

// Search returns the q.TopK memories of q.Namespace with the highest
// score, filters and type applied before the cut (see the package
// documentation for the method and its guarantees).
func (ix *Index) Search(ctx context.Context, q queries.VectorQuery) ([]queries.Hit, error) {
	if ix.err != nil {
		return nil, ix.err
	}
	if errs := validate(q); len(errs) > 0 {
		return nil, errs
	}
	if q.EmbeddingModel != ix.model {
		return nil, fmt.Errorf("qdrant index %s: %w: query vector of model %q, the index serves %q",
			ix.collection, queries.ErrModelMismatch, q.EmbeddingModel, ix.model)
	}
	if err := ix.checkDim(ctx, len(q.Vector)); err != nil {
		return nil, err
	}
	filters, err := compileFilters(q.Filters)
	if err != nil {
		return nil, err
	}
	s := &search{ix: ix, q: q, filters: filters, seen: map[string]bool{}}
	s.filter = &qc.Filter{Must: append([]*qc.Condition{
		qc.NewMatchKeyword(projqdrant.KeyNamespace, q.Namespace),
	}, filters.conditions()...)}
	if q.Type != "" {
		s.filter.Must = append(s.filter.Must, qc.NewMatchKeyword(projqdrant.KeyMemoryType, string(q.Type)))
	}
	s.payload = []string{projqdrant.KeyCoordKey, projqdrant.KeyImportanceNorm, projqdrant.KeyEmbeddingModel}
	if len(filters) > 0 {
		s.payload = append(s.payload, projqdrant.KeyPayload)
	}
	cands, err := s.run(ctx)
	if err != nil {
		// The alias may have moved to a collection of another dimension:
		// read it again next time.
		ix.dim.Store(0)
		return nil, fmt.Errorf("qdrant index %s: search %s: %w", ix.collection, q.Namespace, classify(err))
	}
	hits := make([]queries.Hit, 0, len(cands))
	for _, c := range cands {
		coord, err := domain.ParseCoordinate(c.key)
		if err != nil {
			return nil, fmt.Errorf("qdrant index %s: point %s: coord_key %q: %w", ix.collection, c.id, c.key, err)
		}
		hits = append(hits, queries.Hit{Coordinate: coord, Cosine: c.cos, ImportanceNorm: c.norm, Score: c.score})
	}
	return hits, nil
}

// validate reports every problem of q at once, as domain.ValidationErrors
// (so the HTTP layer answers 422) whose fields wrap ErrInvalidQuery.
func validate(q queries.VectorQuery) domain.ValidationErrors {
	var errs domain.ValidationErrors
	add := func(field, msg string) {
		errs = append(errs, domain.ValidationError{Field: field, Message: msg, Err: ErrInvalidQuery})
	}
	if q.TopK < 1 || q.TopK > maxTopK {
		add("top_k", fmt.Sprintf("must be between 1 and %d, got %d", maxTopK, q.TopK))
	}
	if err := domain.ValidateNamespace(q.Namespace); err != nil {
		add("namespace", err.Error())
	}
	if q.Type != "" && q.Type != domain.Episodic && q.Type != domain.Semantic {
		add("type", fmt.Sprintf("%v %q", domain.ErrInvalidMemoryType, q.Type))
	}
	var norm float64
	for i, f := range q.Vector {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			add("vector", fmt.Sprintf("value %d is not finite", i))
			return errs
		}
		norm += float64(f) * float64(f)
	}
	if norm == 0 {
		add("vector", "is empty or zero")
	}
	return errs
}

// checkDim compares the query's dimension with the collection's, reading
// the collection's (behind the alias, resolved here) when unknown or
// different (the alias may have moved).
func (ix *Index) checkDim(ctx context.Context, n int) error {
	if ix.dim.Load() == uint64(n) { // #nosec G115 -- n is a vector length
		return nil
	}
	generation, err := ix.generation(ctx)
	if err != nil {
		return err
	}
	info, err := ix.client.GetCollectionInfo(ctx, generation)
	if err != nil {
		return fmt.Errorf("qdrant index %s: read collection %s: %w", ix.collection, generation, classify(err))
	}
	size := info.GetConfig().GetParams().GetVectorsConfig().GetParams().GetSize()
	if size == 0 {
		return fmt.Errorf("qdrant index %s: the collection has no single unnamed vector", ix.collection)
	}
	ix.dim.Store(size)
	if size != uint64(n) { // #nosec G115 -- n is a vector length
		return fmt.Errorf("qdrant index %s: %w: query vector of dimension %d, the collection holds dimension %d",
			ix.collection, queries.ErrModelMismatch, n, size)
	}
	return nil
}

// search is the state of one Search.
type search struct {
	ix      *Index
	q       queries.VectorQuery
	filters compiledFilters
	filter  *qc.Filter
	payload []string
	seen    map[string]bool
	// cands are the points seen that pass the filters, rescored.
	cands []candidate
}

func (s *search) run(ctx context.Context) ([]candidate, error) {
	k := s.q.TopK
	first := max(oversample*k, minPage)
	if s.ix.firstPage > 0 {
		first = s.ix.firstPage
	}
	// threshold is the importance_norm floor of the current pass: points
	// below it are known not to reach the top k.
	threshold := 0.0
	read, limit := 0, first
	for {
		page, err := s.page(ctx, threshold, read, limit)
		if err != nil {
			return nil, err
		}
		read += len(page)
		bound := math.Inf(1)
		for _, p := range page {
			bound = min(bound, float64(p.GetScore()))
			if err := s.consider(p.GetId(), p.GetPayload(), float64(p.GetScore())); err != nil {
				return nil, err
			}
		}
		slices.SortFunc(s.cands, better)
		if len(page) < limit {
			// Every point of this pass has been seen.
			return s.top(), nil
		}
		// Unseen points of this pass have a cosine ≤ bound, so a score
		// ≤ max(0, bound) × importance_norm ≤ max(0, bound).
		ub := max(0, bound)
		if len(s.cands) >= k {
			kth := s.cands[k-1].score
			if kth > ub {
				return s.top(), nil
			}
			// ub ≥ kth > 0: an unseen point enters the top k only with
			// importance_norm ≥ kth / bound. Restart the pass over those
			// alone when that prunes enough (the margin absorbs rounding,
			// so a point left out scores strictly below kth).
			if kth > 0 {
				t := kth / bound * (1 - 1e-9)
				if t > threshold && (threshold == 0 || t-threshold >= (1-threshold)/4) {
					threshold, read, limit = t, 0, first
					continue
				}
			}
		}
		if ub == 0 {
			// Fewer than k candidates score above 0 and every unseen
			// point scores 0 (threshold is 0 here: it is raised only
			// once the k-th score is positive, after which ub ≥ kth > 0).
			return s.fillZeros(ctx)
		}
		limit = min(max(read, limit), maxPage)
	}
}

// page reads one page of the cosine ranking of the points passing the
// query's filter and, when threshold > 0, importance_norm ≥ threshold.
func (s *search) page(ctx context.Context, threshold float64, offset, limit int) ([]*qc.ScoredPoint, error) {
	filter := s.filter
	if threshold > 0 {
		filter = &qc.Filter{Must: append(slices.Clip(s.filter.GetMust()),
			qc.NewRange(projqdrant.KeyImportanceNorm, &qc.Range{Gte: &threshold}))}
	}
	page, err := s.ix.client.Query(ctx, &qc.QueryPoints{
		CollectionName: s.ix.collection,
		Query:          qc.NewQueryDense(s.q.Vector),
		Filter:         filter,
		Limit:          qc.PtrOf(uint64(limit)),  // #nosec G115 -- search.run passes limit ≥ minPage > 0
		Offset:         qc.PtrOf(uint64(offset)), // #nosec G115 -- search.run passes a count of points read, ≥ 0
		WithPayload:    qc.NewWithPayloadInclude(s.payload...),
		WithVectors:    qc.NewWithVectors(false),
	})
	if s.ix.trace != nil {
		s.ix.trace(traceEvent{kind: "query", threshold: threshold, offset: offset, limit: limit, got: len(page)})
	}
	return page, err
}

// consider rescores one point and keeps it when it passes the filters.
func (s *search) consider(id *qc.PointId, pl map[string]*qc.Value, cos float64) error {
	uid := pointID(id)
	if s.seen[uid] {
		return nil
	}
	s.seen[uid] = true
	c, ok, err := s.candidate(id, uid, pl)
	if err != nil || !ok {
		return err
	}
	c.cos = cos
	c.score = score(cos, c.norm)
	s.cands = append(s.cands, c)
	return nil
}

// candidate reads the fields of a point; ok is false when the point fails
// the exact filter check.
func (s *search) candidate(pid *qc.PointId, id string, pl map[string]*qc.Value) (candidate, bool, error) {
	if m := pl[projqdrant.KeyEmbeddingModel].GetStringValue(); m != s.ix.model {
		return candidate{}, false, fmt.Errorf("%w: point %s holds a vector of model %q, the index serves %q",
			queries.ErrModelMismatch, id, m, s.ix.model)
	}
	keyVal, ok := pl[projqdrant.KeyCoordKey].GetKind().(*qc.Value_StringValue)
	if !ok {
		return candidate{}, false, fmt.Errorf("point %s has no %s", id, projqdrant.KeyCoordKey)
	}
	norm, ok := number(pl[projqdrant.KeyImportanceNorm])
	if !ok {
		return candidate{}, false, fmt.Errorf("point %s has no numeric %s", id, projqdrant.KeyImportanceNorm)
	}
	if !s.filters.match(pl[projqdrant.KeyPayload].GetStructValue().GetFields()) {
		return candidate{}, false, nil
	}
	return candidate{id: id, pid: pid, key: keyVal.StringValue, norm: norm}, true, nil
}

// top returns the best k candidates.
func (s *search) top() []candidate {
	if len(s.cands) > s.q.TopK {
		return s.cands[:s.q.TopK]
	}
	return s.cands
}

// fillZeros completes the answer once every unseen point scores 0: the
// positive candidates, then the candidates and unseen points of score 0
// with the smallest coordinate keys.
func (s *search) fillZeros(ctx context.Context) ([]candidate, error) {
	k := s.q.TopK
	var out, zeros []candidate
	for _, c := range s.cands {
		if c.score > 0 {
			out = append(out, c)
		} else {
			zeros = append(zeros, c)
		}
	}
	need := k - len(out)
	smallest := newKeyHeap(need)
	for _, c := range zeros {
		smallest.offer(c)
	}
	var offset *qc.PointId
	for {
		page, next, err := s.ix.client.ScrollAndOffset(ctx, &qc.ScrollPoints{
			CollectionName: s.ix.collection,
			Filter:         s.filter,
			Offset:         offset,
			Limit:          qc.PtrOf(uint32(scrollPage)),
			WithPayload:    qc.NewWithPayloadInclude(s.payload...),
			WithVectors:    qc.NewWithVectors(false),
		})
		if err != nil {
			return nil, err
		}
		if s.ix.trace != nil {
			s.ix.trace(traceEvent{kind: "scroll", limit: scrollPage, got: len(page)})
		}
		for _, p := range page {
			uid := pointID(p.GetId())
			if s.seen[uid] {
				continue
			}
			s.seen[uid] = true
			c, ok, err := s.candidate(p.GetId(), uid, p.GetPayload())
			if err != nil {
				return nil, err
			}
			if ok {
				c.cos = math.NaN() // not known yet
				smallest.offer(c)
			}
		}
		if next == nil {
			break
		}
		offset = next
	}
	chosen := smallest.kept()
	// Read the cosines of the chosen points that were not ranked yet.
	var ids []*qc.PointId
	for _, c := range chosen {
		if math.IsNaN(c.cos) {
			ids = append(ids, c.pid)
		}
	}
	cosines := map[string]float64{}
	if len(ids) > 0 {
		got, err := s.ix.client.Query(ctx, &qc.QueryPoints{
			CollectionName: s.ix.collection,
			Query:          qc.NewQueryDense(s.q.Vector),
			Filter:         &qc.Filter{Must: []*qc.Condition{qc.NewHasID(ids...)}},
			Limit:          qc.PtrOf(uint64(len(ids))),
			WithPayload:    qc.NewWithPayload(false),
			WithVectors:    qc.NewWithVectors(false),
		})
		if err != nil {
			return nil, err
		}
		if s.ix.trace != nil {
			s.ix.trace(traceEvent{kind: "cosines", limit: len(ids), got: len(got)})
		}
		for _, p := range got {
			cosines[pointID(p.GetId())] = float64(p.GetScore())
		}
	}
	for _, c := range chosen {
		if math.IsNaN(c.cos) {
			cos, ok := cosines[c.id]
			if !ok {
				continue // deleted meanwhile
			}
			c.cos = cos
			c.score = score(cos, c.norm)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, better)
	return out, nil
}

// pointID is the canonical form of a point id (the projection only writes
// UUIDs).
func pointID(id *qc.PointId) string {
	if u := id.GetUuid(); u != "" {
		return u
	}
	return fmt.Sprint(id.GetNum())
}

func number(v *qc.Value) (float64, bool) {
	switch k := v.GetKind().(type) {
	case *qc.Value_IntegerValue:
		return float64(k.IntegerValue), true
	case *qc.Value_DoubleValue:
		return k.DoubleValue, true
	}
	return 0, false
}
