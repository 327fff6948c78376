package commands

import (
	"context"
	"fmt"

	"github.com/somafractalmemory/soma/domain"
)

// SetImportance changes the raw importance of an existing memory.
type SetImportance struct {
	Caller
	Coordinate domain.Coordinate
	Importance float64
}

// SetImportanceHandler handles SetImportance.
type SetImportanceHandler struct{ c *core }

// ImportanceSet is the answer: the normalised importance decided.
type ImportanceSet struct {
	Accepted
	ImportanceNorm float64
}

// Handle refuses an unknown coordinate (domain.ErrMemoryNotFound). The new
// raw value feeds the namespace's normaliser like a stored one.
func (h *SetImportanceHandler) Handle(ctx context.Context, cmd SetImportance) (ImportanceSet, error) {
	if err := domain.ValidateImportance(cmd.Importance); err != nil {
		return ImportanceSet{}, invalid("importance", err.Error(), domain.ErrInvalidImportance)
	}
	key := cmd.Coordinate.Key()
	found, err := h.c.existing(ctx, cmd.Namespace, []string{key})
	if err != nil {
		return ImportanceSet{}, err
	}
	if !found[key] {
		return ImportanceSet{}, fmt.Errorf("set importance of %s: %w", key, domain.ErrMemoryNotFound)
	}
	raw := cmd.Importance
	norm := h.c.normalize(cmd.Namespace, []*float64{&raw})[0]
	e, err := domain.DecideSetImportance(h.c.meta(cmd.Caller), cmd.Coordinate, raw, norm)
	if err != nil {
		return ImportanceSet{}, err
	}
	acc, err := h.c.append(ctx, []domain.Event{e})
	return ImportanceSet{Accepted: acc, ImportanceNorm: norm}, err
}
