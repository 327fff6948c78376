package queries

import (
	"context"
	"fmt"
	"sync"
)

// Batch limits.
const (
	// MaxBatchQueries bounds the queries of one recall_batch (422 beyond).
	MaxBatchQueries = 100
	// batchSearchParallelism bounds concurrent vector searches of a batch.
	batchSearchParallelism = 4
)

// RecallBatch runs several recalls with the same options.
type RecallBatch struct {
	Caller
	Queries []string
	TopK    int
	Type    string
	Filters map[string]any
}

// RecallBatchHandler handles RecallBatch.
type RecallBatchHandler struct{ c *core }

// Handle embeds every query in one embedder call, runs the searches (at
// most 4 at a time) and hydrates the records of all of them in one pass.
// The answer has one list per query, in query order, each as Recall
// orders it. No query is an empty answer.
func (h *RecallBatchHandler) Handle(ctx context.Context, q RecallBatch) ([][]Match, error) {
	p, err := validateRecall(q.TopK, q.Type, q.Filters)
	if err != nil {
		return nil, err
	}
	if len(q.Queries) > MaxBatchQueries {
		return nil, invalid("queries", fmt.Sprintf("at most %d queries per batch, got %d", MaxBatchQueries, len(q.Queries)), nil)
	}
	if len(q.Queries) == 0 {
		return [][]Match{}, nil
	}
	c := h.c
	if err := c.recallConfigured(); err != nil {
		return nil, err
	}
	if err := c.await(ctx, q.Token, RoleVectors, RoleRecords); err != nil {
		return nil, err
	}
	vecs, err := c.embed(ctx, q.Queries)
	if err != nil {
		return nil, err
	}
	hits, err := c.searchAll(ctx, q.Namespace, vecs, p)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, hs := range hits {
		keys = append(keys, hitKeys(hs)...)
	}
	mems, err := c.hydrate(ctx, q.Namespace, keys)
	if err != nil {
		return nil, err
	}
	out := make([][]Match, len(hits))
	for i, hs := range hits {
		out[i] = matches(hs, mems)
	}
	return out, nil
}

// searchAll runs one search per vector, a few at a time; the first error
// cancels the rest and is returned.
func (c *core) searchAll(ctx context.Context, ns string, vecs [][]float32, p recallParams) ([][]Hit, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make([][]Hit, len(vecs))
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, batchSearchParallelism)
	for i, v := range vecs {
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			hits, err := c.search(ctx, ns, v, p)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("query %d: %w", i, err)
				}
				mu.Unlock()
				cancel()
				return
			}
			out[i] = hits
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
