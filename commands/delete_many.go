package commands

import (
	"context"
	"fmt"

	"github.com/somafractalmemory/soma/domain"
)

// DeleteMany deletes several memories in one append.
type DeleteMany struct {
	Caller
	Coordinates []domain.Coordinate
}

// DeleteManyHandler handles DeleteMany.
type DeleteManyHandler struct{ c *core }

// Handle deletes every coordinate (duplicates once) and reports how many
// held a memory.
func (h *DeleteManyHandler) Handle(ctx context.Context, cmd DeleteMany) (Deleted, error) {
	if len(cmd.Coordinates) > MaxBulkItems {
		return Deleted{}, invalid("coords", fmt.Sprintf("at most %d coordinates per request, got %d", MaxBulkItems, len(cmd.Coordinates)), nil)
	}
	if len(cmd.Coordinates) == 0 {
		return Deleted{}, nil
	}
	return deleteCoords(ctx, h.c, cmd.Caller, cmd.Coordinates)
}
