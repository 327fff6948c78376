package queries

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/internal/embedding"
)

// core is shared by the handlers.
type core struct {
	embedder     Embedder
	vectors      VectorIndex
	records      []RecordStore
	graph        Graph
	ranges       RangeScanner
	counters     []Counter
	exporter     Exporter
	history      HistoryReader
	waiter       *Waiter
	now          func() time.Time
	maxPathNodes int
}

func newCore(d Deps) *core {
	c := &core{
		embedder: d.Embedder, vectors: d.Vectors, graph: d.Graph, ranges: d.Ranges,
		exporter: d.Exporter, history: d.History, waiter: d.Consistency, now: d.Now,
		maxPathNodes: d.MaxPathNodes,
	}
	for _, r := range d.Records {
		if r != nil {
			c.records = append(c.records, r)
		}
	}
	for _, n := range d.Counters {
		if n != nil {
			c.counters = append(c.counters, n)
		}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.maxPathNodes <= 0 {
		c.maxPathNodes = DefaultMaxPathNodes
	}
	return c
}

// await waits until the read models behind roles have applied tok.
func (c *core) await(ctx context.Context, tok consistency.Token, roles ...Role) error {
	if c.waiter == nil || tok.IsZero() {
		return nil
	}
	return c.waiter.Wait(ctx, tok, roles...)
}

// readErr wraps an adapter error with what was being read; a deadline is
// classified as ErrUnavailable.
func readErr(what string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// embed returns one vector per text in one call, mapping embedder outages
// to ErrUnavailable. Other embedder errors keep their class
// (embedding.ErrBadResponse, embedding.ErrRejected).
func (c *core) embed(ctx context.Context, texts []string) ([][]float32, error) {
	if c.embedder == nil {
		return nil, notConfigured("embedder")
	}
	if len(texts) == 0 {
		return nil, nil
	}
	vecs, err := c.embedder.Embed(ctx, texts)
	if err != nil {
		if errors.Is(err, embedding.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: embedder: %w", ErrUnavailable, err)
		}
		return nil, fmt.Errorf("embed query: %w", err)
	}
	if len(vecs) != len(texts) {
		return nil, fmt.Errorf("embed query: %d vectors for %d texts", len(vecs), len(texts))
	}
	for _, v := range vecs {
		if len(v) != c.embedder.Dim() {
			return nil, fmt.Errorf("embed query: vector of dimension %d from model %s: %w", len(v), c.embedder.Model(), ErrModelMismatch)
		}
	}
	return vecs, nil
}

// search runs one vector query.
func (c *core) search(ctx context.Context, ns string, vec []float32, p recallParams) ([]Hit, error) {
	hits, err := c.vectors.Search(ctx, VectorQuery{
		Namespace: ns, Vector: vec, EmbeddingModel: c.embedder.Model(),
		TopK: p.topK, Type: p.typ, Filters: p.filters,
	})
	if err != nil {
		return nil, readErr("search vectors", err)
	}
	return hits, nil
}

// hydrate returns the memories of keys, asking each record store in turn
// for the keys still missing. A store that fails passes all its keys to
// the next one; when the last store fails the error is returned, since a
// miss could not be told from a deleted memory. Keys found nowhere are
// absent from the map.
func (c *core) hydrate(ctx context.Context, ns string, keys []string) (map[string]domain.Memory, error) {
	if len(c.records) == 0 {
		return nil, notConfigured("record store")
	}
	out := make(map[string]domain.Memory, len(keys))
	missing := dedupe(keys)
	for i, rs := range c.records {
		if len(missing) == 0 {
			break
		}
		found, err := rs.Records(ctx, ns, missing)
		if err != nil {
			if i == len(c.records)-1 {
				return nil, readErr("read records", err)
			}
			continue
		}
		rest := missing[:0:0]
		for _, k := range missing {
			if m, ok := found[k]; ok {
				out[k] = m
			} else {
				rest = append(rest, k)
			}
		}
		missing = rest
	}
	return out, nil
}

// matches pairs hits with their memories in hit order, dropping hits
// whose memory is gone (deleted after the vector index answered).
func matches(hits []Hit, mems map[string]domain.Memory) []Match {
	out := make([]Match, 0, len(hits))
	for _, h := range hits {
		if m, ok := mems[h.Coordinate.Key()]; ok {
			out = append(out, Match{Hit: h, Memory: m})
		}
	}
	return out
}

func hitKeys(hits []Hit) []string {
	keys := make([]string, len(hits))
	for i, h := range hits {
		keys[i] = h.Coordinate.Key()
	}
	return keys
}

func dedupe(keys []string) []string {
	seen := make(map[string]bool, len(keys))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
