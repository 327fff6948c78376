package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/embedding"
)

// StoreItem is one memory to store (store, remember, store_bulk, import).
type StoreItem struct {
	Coordinate domain.Coordinate
	// Payload is the caller's JSON object (decoded with UseNumber). A
	// numeric "importance" key is the raw importance.
	Payload map[string]any
	// Type is the request's type string: "semantic", anything else episodic.
	Type string
	// Embedding is an optional client-supplied vector; it must have the
	// configured dimension and come from the configured model.
	Embedding []float32
}

// prepareStores validates every item, embeds those without a vector in one
// batch, normalises importances in order and decides the events. Nothing
// is published: one invalid item rejects them all. Field names of errors
// are prefixed with prefix(i) (e.g. "items[3].") when prefix is non-nil.
func (c *core) prepareStores(ctx context.Context, caller Caller, items []StoreItem, prefix func(int) string) ([]domain.Event, error) {
	var errs domain.ValidationErrors
	add := func(i int, field, msg string, cause error) {
		if prefix != nil {
			field = prefix(i) + field
		}
		errs = append(errs, domain.ValidationError{Field: field, Message: msg, Err: cause})
	}
	raws := make([]*float64, len(items))
	vecs := make([][]float32, len(items))
	var texts []string
	var textIdx []int
	dim := c.embedder.Dim()
	for i, it := range items {
		if it.Payload == nil {
			add(i, "payload", "must be a JSON object", nil)
			continue
		}
		if hasNUL(it.Payload) {
			// No read model can keep it (PostgreSQL jsonb refuses \u0000).
			add(i, "payload", `must not contain the character \u0000`, nil)
			continue
		}
		raw, err := importanceOf(it.Payload)
		if err != nil {
			add(i, "payload.importance", err.Error(), domain.ErrInvalidImportance)
		}
		raws[i] = raw
		if it.Embedding != nil {
			if err := embedding.ValidateVector(it.Embedding, dim); err != nil {
				add(i, "embedding", err.Error(), err)
				continue
			}
			v := append([]float32(nil), it.Embedding...)
			embedding.Normalize(v)
			vecs[i] = v
			continue
		}
		texts = append(texts, embedding.TextOf(it.Payload))
		textIdx = append(textIdx, i)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	embedded, err := c.embed(ctx, texts)
	if err != nil {
		return nil, err
	}
	for j, i := range textIdx {
		vecs[i] = embedded[j]
	}
	norms := c.normalize(caller.Namespace, raws)
	events := make([]domain.Event, 0, len(items))
	model := c.embedder.Model()
	for i, it := range items {
		e, err := domain.DecideStore(c.meta(caller), domain.StoreMemory{
			Coordinate:     it.Coordinate,
			Payload:        it.Payload,
			Type:           domain.MemoryTypeForStore(it.Type),
			Importance:     raws[i],
			Embedding:      vecs[i],
			EmbeddingModel: model,
		}, norms[i])
		if err != nil {
			var ve domain.ValidationErrors
			if prefix != nil && asValidation(err, &ve) {
				for _, v := range ve {
					add(i, v.Field, v.Message, v.Err)
				}
				continue
			}
			return nil, err
		}
		events = append(events, e)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return events, nil
}

// importanceOf reads the raw importance from the payload's "importance"
// key: absent or null → none; a finite number → that number; anything else
// is invalid.
func importanceOf(p map[string]any) (*float64, error) {
	v, ok := p[domain.PayloadKeyImportance]
	if !ok || v == nil {
		return nil, nil
	}
	var f float64
	switch n := v.(type) {
	case json.Number:
		x, err := n.Float64()
		if err != nil {
			return nil, fmt.Errorf("must be a finite number, got %s", n)
		}
		f = x
	case float64:
		f = n
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	default:
		return nil, fmt.Errorf("must be a number, got %T", v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("must be a finite number")
	}
	return &f, nil
}

// hasNUL reports whether a key or string anywhere in v holds a NUL byte.
func hasNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.IndexByte(v, 0) >= 0
	case []any:
		for _, x := range v {
			if hasNUL(x) {
				return true
			}
		}
	case map[string]any:
		for k, x := range v {
			if strings.IndexByte(k, 0) >= 0 || hasNUL(x) {
				return true
			}
		}
	}
	return false
}
