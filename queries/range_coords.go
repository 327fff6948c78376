package queries

import (
	"context"

	"github.com/somafractalmemory/soma/domain"
)

// Range lists the coordinates inside a box.
type Range struct {
	Caller
	// Min and Max are inclusive bounds compared on the common prefix of
	// dimensions (domain.Coordinate.InRange); an empty bound matches
	// everything.
	Min, Max domain.Coordinate
	// Type is "", "episodic" or "semantic".
	Type string
}

// RangeHandler handles Range.
type RangeHandler struct{ c *core }

// Handle returns the coordinates of the memories in [Min, Max] of Type,
// ordered by coordinate key. There is no limit: a namespace holds at most
// SOMA_MAX_MEMORY_SIZE memories.
func (h *RangeHandler) Handle(ctx context.Context, q Range) ([]domain.Coordinate, error) {
	typ, _, err := domain.MemoryTypeFilter(q.Type)
	if err != nil {
		return nil, invalid("type", err.Error(), err)
	}
	if h.c.ranges == nil {
		return nil, notConfigured("range scanner")
	}
	if err := h.c.await(ctx, q.Token, RoleRanges); err != nil {
		return nil, err
	}
	coords, err := h.c.ranges.Range(ctx, q.Namespace, q.Min, q.Max, typ, 0)
	if err != nil {
		return nil, readErr("range scan", err)
	}
	if coords == nil {
		coords = []domain.Coordinate{}
	}
	return coords, nil
}
