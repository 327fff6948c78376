package commands

import (
	"context"
	"fmt"

	"github.com/somafractalmemory/soma/domain"
)

// LinkMemories creates or replaces the directed edge From→To.
type LinkMemories struct {
	Caller
	domain.LinkMemories
}

// LinkMemoriesHandler handles LinkMemories.
type LinkMemoriesHandler struct{ c *core }

// Handle refuses a link from a coordinate that holds no memory
// (domain.ErrMemoryNotFound); the target need not exist.
func (h *LinkMemoriesHandler) Handle(ctx context.Context, cmd LinkMemories) (Accepted, error) {
	e, err := domain.DecideLink(h.c.meta(cmd.Caller), cmd.LinkMemories)
	if err != nil {
		return Accepted{}, err
	}
	key := cmd.From.Key()
	found, err := h.c.existing(ctx, cmd.Namespace, []string{key})
	if err != nil {
		return Accepted{}, err
	}
	if !found[key] {
		return Accepted{}, fmt.Errorf("link from %s: %w", key, domain.ErrMemoryNotFound)
	}
	return h.c.append(ctx, []domain.Event{e})
}
