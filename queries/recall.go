package queries

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/somafractalmemory/soma/domain"
)

// Recall limits.
const (
	// DefaultTopK is the top_k of a request that gives none.
	DefaultTopK = 5
	// MaxTopK bounds top_k (1..MaxTopK, 422 otherwise).
	MaxTopK = 1000
	// MaxFilters bounds the number of payload filters of one recall.
	MaxFilters = 64
)

// Recall finds the memories most similar to a text.
type Recall struct {
	Caller
	Query string
	// TopK is 1..MaxTopK.
	TopK int
	// Type is "", "episodic" or "semantic" (domain.MemoryTypeFilter).
	Type string
	// Filters are equality conditions on top-level payload keys. Values
	// are strings, booleans, null or numbers (float64, json.Number or Go
	// integers; compared numerically). Objects and arrays are refused.
	Filters map[string]any
}

// RecallHandler handles Recall.
type RecallHandler struct{ c *core }

// Handle embeds the query, searches the vector index (type and filters
// applied inside the search, before the top-k cut) and hydrates the
// records. Results are ordered by score (max(0, cosine) × importance_norm)
// descending, ties by coordinate key; zero scores are kept, last. A hit
// whose record no longer exists anywhere (deleted meanwhile) is dropped,
// so fewer than TopK matches may come back.
func (h *RecallHandler) Handle(ctx context.Context, q Recall) ([]Match, error) {
	return h.c.recall(ctx, q)
}

// recallParams are validated recall options.
type recallParams struct {
	topK    int
	typ     domain.MemoryType
	filters map[string]any
}

// validateRecall checks top_k, type and filters together and reports
// every problem at once.
func validateRecall(topK int, typ string, filters map[string]any) (recallParams, error) {
	var errs domain.ValidationErrors
	p := recallParams{topK: topK}
	if topK < 1 || topK > MaxTopK {
		errs = append(errs, domain.ValidationError{Field: "top_k", Message: fmt.Sprintf("must be between 1 and %d, got %d", MaxTopK, topK)})
	}
	t, ok, err := domain.MemoryTypeFilter(typ)
	if err != nil {
		errs = append(errs, domain.ValidationError{Field: "type", Message: err.Error(), Err: err})
	} else if ok {
		p.typ = t
	}
	if len(filters) > MaxFilters {
		errs = append(errs, domain.ValidationError{Field: "filters", Message: fmt.Sprintf("at most %d filters, got %d", MaxFilters, len(filters))})
	} else if len(filters) > 0 {
		p.filters = make(map[string]any, len(filters))
		for k, v := range filters {
			nv, err := filterValue(v)
			if err != nil {
				errs = append(errs, domain.ValidationError{Field: "filters." + k, Message: err.Error()})
				continue
			}
			p.filters[k] = nv
		}
	}
	if len(errs) > 0 {
		return recallParams{}, errs
	}
	return p, nil
}

// filterValue normalises a filter value for the vector index: numbers
// become float64, strings, booleans and nil stay as they are.
func filterValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, string, bool:
		return x, nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("number %s is not a finite float64", x)
		}
		return f, nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("number %v is not finite", x)
		}
		return x, nil
	case float32:
		return filterValue(float64(x))
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case int32:
		return float64(x), nil
	}
	return nil, fmt.Errorf("must be a string, number, boolean or null (equality on a top-level payload key), got %T", v)
}

// recall is Recall for one query text.
func (c *core) recall(ctx context.Context, q Recall) ([]Match, error) {
	p, err := validateRecall(q.TopK, q.Type, q.Filters)
	if err != nil {
		return nil, err
	}
	if err := c.recallConfigured(); err != nil {
		return nil, err
	}
	if err := c.await(ctx, q.Token, RoleVectors, RoleRecords); err != nil {
		return nil, err
	}
	vecs, err := c.embed(ctx, []string{q.Query})
	if err != nil {
		return nil, err
	}
	hits, err := c.search(ctx, q.Namespace, vecs[0], p)
	if err != nil {
		return nil, err
	}
	mems, err := c.hydrate(ctx, q.Namespace, hitKeys(hits))
	if err != nil {
		return nil, err
	}
	return matches(hits, mems), nil
}

func (c *core) recallConfigured() error {
	switch {
	case c.embedder == nil:
		return notConfigured("embedder")
	case c.vectors == nil:
		return notConfigured("vector index")
	case len(c.records) == 0:
		return notConfigured("record store")
	}
	return nil
}
