package queries

import (
	"context"
	"fmt"

	"github.com/somafractalmemory/soma/domain"
)

// History limits.
const (
	// DefaultHistoryLimit is the limit of a request that gives none.
	DefaultHistoryLimit = 100
	// MaxHistoryLimit bounds the limit (422 beyond).
	MaxHistoryLimit = 10000
)

// History lists a memory's events.
type History struct {
	Caller
	Coordinate domain.Coordinate
	// Limit is 1..MaxHistoryLimit.
	Limit int
}

// HistoryHandler handles History.
type HistoryHandler struct{ c *core }

// Handle returns the events about Coordinate (stores, importance changes,
// links from it, unlinks, deletes), oldest first, at most Limit. A
// coordinate that never held a memory has none.
func (h *HistoryHandler) Handle(ctx context.Context, q History) ([]HistoryEntry, error) {
	if q.Limit < 1 || q.Limit > MaxHistoryLimit {
		return nil, invalid("limit", fmt.Sprintf("must be between 1 and %d, got %d", MaxHistoryLimit, q.Limit), nil)
	}
	if h.c.history == nil {
		return nil, notConfigured("history reader")
	}
	if err := h.c.await(ctx, q.Token, RoleHistory); err != nil {
		return nil, err
	}
	entries, err := h.c.history.History(ctx, q.Namespace, q.Coordinate, q.Limit)
	if err != nil {
		return nil, readErr("read history", err)
	}
	if entries == nil {
		entries = []HistoryEntry{}
	}
	return entries, nil
}
