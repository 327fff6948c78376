package redis_test

import (
	"testing"

	"github.com/somafractalmemory/soma/projections/projectiontest"
	"github.com/somafractalmemory/soma/projections/redis"
)

var _ projectiontest.CountProbe = (*redis.Projection)(nil)

func TestContract(t *testing.T) {
	projectiontest.Run(t, func(t *testing.T) projectiontest.Target {
		p, _ := newProjection(t, redis.Config{})
		return projectiontest.Target{Projection: p, Probe: p}
	})
}

// The same contract holds when every event is its own script call (the
// chunks of one Apply then share one MULTI/EXEC).
func TestContractOneEventPerScriptCall(t *testing.T) {
	projectiontest.Run(t, func(t *testing.T) projectiontest.Target {
		p, _ := newProjection(t, redis.Config{ChunkEvents: 1})
		return projectiontest.Target{Projection: p, Probe: p}
	})
}
