package commands

import (
	"context"

	"github.com/somafractalmemory/soma/domain"
)

// UnlinkMemories removes the directed edge From→To (idempotent).
type UnlinkMemories struct {
	Caller
	From, To domain.Coordinate
}

// UnlinkMemoriesHandler handles UnlinkMemories.
type UnlinkMemoriesHandler struct{ c *core }

// Handle publishes MemoryUnlinked.
func (h *UnlinkMemoriesHandler) Handle(ctx context.Context, cmd UnlinkMemories) (Accepted, error) {
	meta := h.c.meta(cmd.Caller)
	if err := domain.ValidateMeta(meta); err != nil {
		return Accepted{}, err
	}
	return h.c.append(ctx, []domain.Event{domain.DecideUnlink(meta, cmd.From, cmd.To)})
}
