package queries

import (
	"context"
	"fmt"

	"github.com/somafractalmemory/soma/domain"
)

// GetMemory reads one memory by coordinate.
type GetMemory struct {
	Caller
	Coordinate domain.Coordinate
}

// GetMemoryHandler handles GetMemory.
type GetMemoryHandler struct{ c *core }

// Handle returns the memory, or an error wrapping domain.ErrMemoryNotFound.
func (h *GetMemoryHandler) Handle(ctx context.Context, q GetMemory) (domain.Memory, error) {
	if len(h.c.records) == 0 {
		return domain.Memory{}, notConfigured("record store")
	}
	if err := h.c.await(ctx, q.Token, RoleRecords); err != nil {
		return domain.Memory{}, err
	}
	key := q.Coordinate.Key()
	mems, err := h.c.hydrate(ctx, q.Namespace, []string{key})
	if err != nil {
		return domain.Memory{}, err
	}
	m, ok := mems[key]
	if !ok {
		return domain.Memory{}, fmt.Errorf("%w at coordinate [%s]", domain.ErrMemoryNotFound, key)
	}
	return m, nil
}
