package commands

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/internal/embedding"
)

// core is shared by the handlers: the sink, the per-namespace importance
// normalisers and the recent-writes overlay.
type core struct {
	sink     EventSink
	dir      Directory
	embedder Embedder
	now      func() time.Time
	newID    func() string
	recent   *recentWrites

	mu         sync.Mutex
	normalizer map[string]*domain.ImportanceNormalizer
}

func newCore(d Deps) *core {
	c := &core{sink: d.Sink, dir: d.Directory, embedder: d.Embedder, now: d.Now, newID: d.NewID,
		recent: newRecentWrites(d.RecentCapacity), normalizer: map[string]*domain.ImportanceNormalizer{}}
	if c.now == nil {
		c.now = time.Now
	}
	if c.newID == nil {
		c.newID = defaultNewID
	}
	return c
}

func (c *core) meta(caller Caller) domain.EventMeta {
	return domain.EventMeta{
		EventID:        c.newID(),
		Namespace:      caller.Namespace,
		OccurredAt:     c.now().UTC(),
		IdempotencyKey: caller.IdempotencyKey,
		Actor:          caller.Actor,
	}
}

// normalize feeds raw importances of one namespace, in order, to its
// normaliser. The normaliser lives in this process: importance_norm is
// decided here and carried by the event, so every read model agrees.
func (c *core) normalize(namespace string, raws []*float64) []float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.normalizer[namespace]
	if n == nil {
		n = domain.NewImportanceNormalizer()
		c.normalizer[namespace] = n
	}
	out := make([]float64, len(raws))
	for i, r := range raws {
		out[i] = domain.NeutralImportance
		if r != nil {
			out[i] = n.Observe(*r)
		}
	}
	return out
}

// append publishes events and records their effect in the overlay.
func (c *core) append(ctx context.Context, events []domain.Event) (Accepted, error) {
	tok, err := c.sink.Append(ctx, events)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return Accepted{}, err
		}
		return Accepted{}, fmt.Errorf("append events: %w", err)
	}
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.Metadata().EventID
		switch e := e.(type) {
		case domain.MemoryStored:
			c.recent.set(e.Namespace, e.Coordinate.Key(), true)
		case domain.MemoryDeleted:
			c.recent.set(e.Namespace, e.Coordinate.Key(), false)
		}
	}
	return Accepted{EventIDs: ids, Token: tok}, nil
}

// existing answers which keys hold a memory: this process's own recent
// writes first, then the directory for the rest.
func (c *core) existing(ctx context.Context, namespace string, keys []string) (map[string]bool, error) {
	out := make(map[string]bool, len(keys))
	var ask []string
	for _, k := range keys {
		if v, ok := c.recent.get(namespace, k); ok {
			out[k] = v
		} else {
			ask = append(ask, k)
		}
	}
	if len(ask) == 0 {
		return out, nil
	}
	if c.dir == nil {
		return nil, fmt.Errorf("%w: no directory of memories configured", ErrUnavailable)
	}
	found, err := c.dir.Existing(ctx, namespace, ask)
	if err != nil {
		return nil, fmt.Errorf("%w: memory directory: %v", ErrUnavailable, err)
	}
	for _, k := range ask {
		out[k] = found[k]
	}
	return out, nil
}

// embed returns one vector per text, mapping embedder outages to
// ErrUnavailable.
func (c *core) embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	vecs, err := c.embedder.Embed(ctx, texts)
	if err != nil {
		if errors.Is(err, embedding.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: embedder: %v", ErrUnavailable, err)
		}
		if errors.Is(err, embedding.ErrRejected) || errors.Is(err, embedding.ErrBadResponse) {
			return nil, fmt.Errorf("%w: %v", ErrBadGateway, err)
		}
		return nil, fmt.Errorf("embed: %w", err)
	}
	if len(vecs) != len(texts) {
		return nil, fmt.Errorf("embed: %d vectors for %d texts", len(vecs), len(texts))
	}
	return vecs, nil
}

// withToken is a helper for handlers returning a single token.
func merge(a, b consistency.Token) consistency.Token {
	m, err := a.Merge(b)
	if err != nil {
		return b
	}
	return m
}
