// Package policies runs the memory policies of a namespace as background
// jobs that read a read model and publish ordinary commands through the
// write path — never by mutating a read model:
//
//   - Eviction (SOMA_MAX_MEMORY_SIZE): when a namespace holds more than the
//     limit, the lowest-importance, then oldest, memories are deleted with
//     delete_many, so they leave every read model. The read model keeps an
//     index on (namespace, importance_norm, created_at), so a pass reads
//     only the excess rows: no full scan per store.
//   - Decay (optional): each rule removes payload keys from memories older
//     than its age; a memory that still has one of the keys is re-stored
//     without them (same coordinate, type and timestamp), and only those.
package policies

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/domain"
)

// Reader is what the policies read from a read model.
type Reader interface {
	// Overfull returns the namespaces holding more than limit memories,
	// with their counts.
	Overfull(ctx context.Context, limit int) (map[string]int64, error)
	// Evictable returns the n memories of ns to evict first: lowest
	// importance_norm, then oldest.
	Evictable(ctx context.Context, ns string, n int) ([]domain.Coordinate, error)
	// Decayable returns up to limit memories stored before olderThan whose
	// payload has at least one of keys, in any namespace.
	Decayable(ctx context.Context, olderThan time.Time, keys []string, limit int) ([]domain.Memory, error)
}

// Rule removes Keys from memories older than Age.
type Rule struct {
	Age  time.Duration
	Keys []string
}

// Config of the policies.
type Config struct {
	MaxMemorySize int // 0: no limit
	DecayEnabled  bool
	Rules         []Rule
	Interval      time.Duration // default 60s
	// Batch bounds the commands of one pass per namespace (default 1000).
	Batch int
}

// Runner runs the policies periodically.
type Runner struct {
	r   Reader
	app *commands.Application
	cfg Config
	log *slog.Logger
	now func() time.Time
}

// New returns a runner publishing through app.
func New(r Reader, app *commands.Application, cfg Config, log *slog.Logger) *Runner {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 1000
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{r: r, app: app, cfg: cfg, log: log, now: time.Now}
}

// Run runs a pass every Interval until ctx ends.
func (p *Runner) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		if n, err := p.Evict(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("eviction pass", "err", err)
		} else if n > 0 {
			p.log.Info("evicted memories over the namespace limit", "count", n)
		}
		if n, err := p.Decay(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("decay pass", "err", err)
		} else if n > 0 {
			p.log.Info("decayed memories", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Caller of policy commands.
func caller(ns string) commands.Caller { return commands.Caller{Namespace: ns, Actor: "policy"} }

// Evict runs one eviction pass and returns how many memories it deleted.
func (p *Runner) Evict(ctx context.Context) (int, error) {
	if p.cfg.MaxMemorySize <= 0 {
		return 0, nil
	}
	over, err := p.r.Overfull(ctx, p.cfg.MaxMemorySize)
	if err != nil {
		return 0, err
	}
	total := 0
	var errs []error
	for ns, count := range over {
		// One batch per namespace and pass: the read model applies the
		// deletes asynchronously, and the next pass continues if the
		// namespace is still over the limit.
		n := min(int(count)-p.cfg.MaxMemorySize, p.cfg.Batch, commands.MaxBulkItems)
		coords, err := p.r.Evictable(ctx, ns, n)
		if err != nil {
			errs = append(errs, fmt.Errorf("namespace %s: %w", ns, err))
			continue
		}
		if len(coords) == 0 {
			continue
		}
		if _, err := p.app.DeleteMany.Handle(ctx, commands.DeleteMany{Caller: caller(ns), Coordinates: coords}); err != nil {
			errs = append(errs, fmt.Errorf("namespace %s: delete: %w", ns, err))
			continue
		}
		total += len(coords)
	}
	return total, errors.Join(errs...)
}

// Decay runs one decay pass and returns how many memories it re-stored.
func (p *Runner) Decay(ctx context.Context) (int, error) {
	if !p.cfg.DecayEnabled {
		return 0, nil
	}
	total := 0
	for _, rule := range p.cfg.Rules {
		mems, err := p.r.Decayable(ctx, p.now().Add(-rule.Age), rule.Keys, p.cfg.Batch)
		if err != nil {
			return total, err
		}
		byNS := map[string][]commands.StoreItem{}
		for _, m := range mems {
			payload := maps.Clone(m.Payload)
			changed := false
			for _, k := range rule.Keys {
				if _, ok := payload[k]; ok {
					delete(payload, k)
					changed = true
				}
			}
			if !changed {
				continue
			}
			byNS[m.Namespace] = append(byNS[m.Namespace], commands.StoreItem{Coordinate: m.Coordinate, Payload: payload, Type: string(m.Type)})
		}
		for ns, items := range byNS {
			if _, err := p.app.StoreBulk.Handle(ctx, commands.StoreBulk{Caller: caller(ns), Items: items}); err != nil {
				return total, fmt.Errorf("namespace %s: re-store decayed memories: %w", ns, err)
			}
			total += len(items)
		}
	}
	return total, nil
}
