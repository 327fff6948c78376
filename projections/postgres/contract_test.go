package postgres_test

import (
	"context"
	"testing"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/testenv"
	"github.com/somafractalmemory/soma/projections/postgres"
	"github.com/somafractalmemory/soma/projections/projectiontest"
)

// probe reads the Postgres read model back through its read helpers.
type probe struct{ p *postgres.Projection }

func (pr probe) Record(ctx context.Context, ns string, c domain.Coordinate) (domain.Memory, bool, error) {
	return pr.p.Get(ctx, ns, c)
}

func (pr probe) Links(ctx context.Context, ns string, from domain.Coordinate) ([]domain.Link, error) {
	return pr.p.Neighbors(ctx, ns, from, "", 1<<30)
}

func (pr probe) Counts(ctx context.Context, ns string) (total, episodic, semantic int64, err error) {
	return pr.p.Counts(ctx, ns)
}

var (
	_ projectiontest.LinkProbe  = probe{}
	_ projectiontest.CountProbe = probe{}
)

func TestContract(t *testing.T) {
	testenv.PostgresURL(t) // skip (or fail) once rather than per scenario
	projectiontest.Run(t, func(t *testing.T) projectiontest.Target {
		p, _ := newProjection(t)
		return projectiontest.Target{Projection: p, Probe: probe{p}}
	})
}
