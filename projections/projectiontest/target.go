// Package projectiontest is the contract suite every read model runs: the
// behaviour of projections.Projection (ordering, idempotence, atomicity,
// positions) and the state the events must leave behind, checked through
// a small probe interface and against a reference model of the rules.
//
// A read model's test calls Run with a constructor of fresh targets:
//
//	func TestContract(t *testing.T) {
//		projectiontest.Run(t, func(t *testing.T) projectiontest.Target {
//			... // a fresh, empty read model, cleaned up with t.Cleanup
//		})
//	}
package projectiontest

import (
	"context"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/projections"
)

// Target is one fresh, empty read model under test.
type Target struct {
	Projection projections.Projection
	// Probe reads the state back. It may also implement LinkProbe,
	// CountProbe and VectorProbe; scenarios needing a capability the
	// probe lacks check what they can and skip the rest.
	Probe Probe
	// Versionless says the read model does not keep Memory.Version,
	// Memory.LastEventID and Memory.UpdatedAt; the suite ignores them.
	Versionless bool
}

// Probe reads one memory back.
type Probe interface {
	// Record returns the memory at coord in namespace ns (ok false when
	// there is none). Payload numbers may be float64 or json.Number.
	Record(ctx context.Context, ns string, coord domain.Coordinate) (m domain.Memory, ok bool, err error)
}

// LinkProbe is implemented by read models that keep the graph.
type LinkProbe interface {
	// Links returns every outgoing edge of from, in insertion order.
	Links(ctx context.Context, ns string, from domain.Coordinate) ([]domain.Link, error)
}

// CountProbe is implemented by read models that keep per-namespace counts.
type CountProbe interface {
	Counts(ctx context.Context, ns string) (total, episodic, semantic int64, err error)
}

// VectorProbe is implemented by read models that keep embeddings.
type VectorProbe interface {
	// Vector returns the embedding stored for the memory at coord (ok
	// false when there is none).
	Vector(ctx context.Context, ns string, coord domain.Coordinate) (v []float32, ok bool, err error)
}
