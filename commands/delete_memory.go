package commands

import (
	"context"

	"github.com/somafractalmemory/soma/domain"
)

// DeleteMemory deletes the memory at a coordinate with its vector and
// links (idempotent).
type DeleteMemory struct {
	Caller
	Coordinate domain.Coordinate
}

// DeleteMemoryHandler handles DeleteMemory.
type DeleteMemoryHandler struct{ c *core }

// Deleted is the answer of delete and delete_many.
type Deleted struct {
	Accepted
	// Existed counts the coordinates that held a memory, as far as the
	// directory and this process's own recent writes know.
	Existed int
}

// Handle always publishes MemoryDeleted, even when the directory does not
// know the memory yet (it may be a write the read models have not applied),
// so a delete can never be lost to read-model lag.
func (h *DeleteMemoryHandler) Handle(ctx context.Context, cmd DeleteMemory) (Deleted, error) {
	return deleteCoords(ctx, h.c, cmd.Caller, []domain.Coordinate{cmd.Coordinate})
}

func deleteCoords(ctx context.Context, c *core, caller Caller, coords []domain.Coordinate) (Deleted, error) {
	keys := make([]string, 0, len(coords))
	seen := make(map[string]bool, len(coords))
	events := make([]domain.Event, 0, len(coords))
	for _, co := range coords {
		k := co.Key()
		if seen[k] {
			continue
		}
		seen[k] = true
		keys = append(keys, k)
		meta := c.meta(caller)
		if err := domain.ValidateMeta(meta); err != nil {
			return Deleted{}, err
		}
		events = append(events, domain.DecideDelete(meta, co))
	}
	found, err := c.existing(ctx, caller.Namespace, keys)
	if err != nil {
		return Deleted{}, err
	}
	existed := 0
	for _, k := range keys {
		if found[k] {
			existed++
		}
	}
	acc, err := c.append(ctx, events)
	if err != nil {
		return Deleted{}, err
	}
	return Deleted{Accepted: acc, Existed: existed}, nil
}
