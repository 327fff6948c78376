package commands

import (
	"context"
	"math/rand/v2"

	"github.com/somafractalmemory/soma/domain"
)

// Remember stores a memory, generating its coordinate when none is given.
type Remember struct {
	Caller
	StoreItem
	// HasCoordinate is false when the request carried no coordinate.
	HasCoordinate bool
}

// RememberHandler handles Remember.
type RememberHandler struct{ c *core }

// Remembered is the answer: the coordinate used.
type Remembered struct {
	Accepted
	Coordinate domain.Coordinate
}

// Handle stores the memory. A generated coordinate has two dimensions: the
// time of the command in epoch seconds (microsecond precision) and a
// random number in [0, 1), so generated memories sort by time in range
// queries and never collide in practice.
func (h *RememberHandler) Handle(ctx context.Context, cmd Remember) (Remembered, error) {
	if !cmd.HasCoordinate {
		now := h.c.now()
		t := float64(now.UnixMicro()) / 1e6
		cmd.Coordinate = domain.MustCoordinate(t, rand.Float64()) // #nosec G404 -- spreads generated coordinates; not a secret
	}
	events, err := h.c.prepareStores(ctx, cmd.Caller, []StoreItem{cmd.StoreItem}, nil)
	if err != nil {
		return Remembered{}, err
	}
	acc, err := h.c.append(ctx, events)
	return Remembered{Accepted: acc, Coordinate: cmd.Coordinate}, err
}
