package commands

import (
	"context"
	"fmt"
)

// MaxBulkItems bounds one store_bulk request.
const MaxBulkItems = 10000

// StoreBulk stores many memories at once: all or none.
type StoreBulk struct {
	Caller
	Items []StoreItem
}

// StoreBulkHandler handles StoreBulk.
type StoreBulkHandler struct{ c *core }

// Handle validates every item first (one bad item rejects the batch and
// nothing is published), embeds them in one batch and publishes all events
// in one append.
func (h *StoreBulkHandler) Handle(ctx context.Context, cmd StoreBulk) (Accepted, error) {
	if len(cmd.Items) > MaxBulkItems {
		return Accepted{}, invalid("items", fmt.Sprintf("at most %d items per request, got %d", MaxBulkItems, len(cmd.Items)), nil)
	}
	if len(cmd.Items) == 0 {
		return Accepted{}, nil
	}
	events, err := h.c.prepareStores(ctx, cmd.Caller, cmd.Items, func(i int) string { return fmt.Sprintf("items[%d].", i) })
	if err != nil {
		return Accepted{}, err
	}
	return h.c.append(ctx, events)
}
