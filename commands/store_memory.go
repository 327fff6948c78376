package commands

import (
	"context"
)

// StoreMemory stores (or replaces) one memory at a coordinate.
type StoreMemory struct {
	Caller
	StoreItem
}

// StoreMemoryHandler handles StoreMemory.
type StoreMemoryHandler struct{ c *core }

// Handle validates, embeds and publishes one MemoryStored event.
func (h *StoreMemoryHandler) Handle(ctx context.Context, cmd StoreMemory) (Accepted, error) {
	events, err := h.c.prepareStores(ctx, cmd.Caller, []StoreItem{cmd.StoreItem}, nil)
	if err != nil {
		return Accepted{}, err
	}
	return h.c.append(ctx, events)
}
