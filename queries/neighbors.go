package queries

import (
	"context"
	"strings"

	"github.com/somafractalmemory/soma/domain"
)

// Neighbour limits.
const (
	// DefaultNeighborLimit is the limit of a request that gives none.
	DefaultNeighborLimit = 1000
	// MaxNeighborLimit caps any limit asked for.
	MaxNeighborLimit = 10000
)

// Neighbors lists the outgoing edges of a memory.
type Neighbors struct {
	Caller
	Coordinate domain.Coordinate
	// LinkType keeps only edges of this type when not blank (trimmed).
	LinkType string
	// Limit: at most this many edges; ≤ 0 gives none; capped at
	// MaxNeighborLimit.
	Limit int
}

// NeighborsHandler handles Neighbors.
type NeighborsHandler struct{ c *core }

// Handle returns the outgoing edges of Coordinate in insertion order, the
// type filter applied before the limit. An unknown coordinate has none.
func (h *NeighborsHandler) Handle(ctx context.Context, q Neighbors) ([]domain.Link, error) {
	if h.c.graph == nil {
		return nil, notConfigured("graph")
	}
	if q.Limit <= 0 {
		return []domain.Link{}, nil
	}
	if err := h.c.await(ctx, q.Token, RoleGraph); err != nil {
		return nil, err
	}
	links, err := h.c.graph.Neighbors(ctx, q.Namespace, q.Coordinate, strings.TrimSpace(q.LinkType), min(q.Limit, MaxNeighborLimit))
	if err != nil {
		return nil, readErr("read neighbours", err)
	}
	if links == nil {
		links = []domain.Link{}
	}
	return links, nil
}
