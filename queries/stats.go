package queries

import (
	"context"
	"errors"
)

// GetStats counts the memories of a namespace.
type GetStats struct {
	Caller
}

// StatsHandler handles GetStats.
type StatsHandler struct{ c *core }

// Handle asks the counters in order (Redis first) and returns the first
// answer; the error of the last counter is returned when none answers.
func (h *StatsHandler) Handle(ctx context.Context, q GetStats) (Stats, error) {
	if len(h.c.counters) == 0 {
		return Stats{}, notConfigured("counter")
	}
	if err := h.c.await(ctx, q.Token, RoleCounters); err != nil {
		return Stats{}, err
	}
	var errs []error
	for _, n := range h.c.counters {
		s, err := n.Counts(ctx, q.Namespace)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return Stats{}, readErr("count memories", errors.Join(errs...))
}
