package embedded_test

import (
	"testing"

	"github.com/somafractalmemory/soma/projections/projectiontest"
)

var (
	_ projectiontest.LinkProbe   = probe{}
	_ projectiontest.CountProbe  = probe{}
	_ projectiontest.VectorProbe = probe{}
)

func TestContract(t *testing.T) {
	projectiontest.Run(t, func(t *testing.T) projectiontest.Target {
		s := openStore(t, testConfig(t.TempDir()))
		return projectiontest.Target{Projection: s, Probe: probe{s}}
	})
}
