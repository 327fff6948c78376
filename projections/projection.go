// Package projections turns the event log into read models. Every read
// model (Postgres, Qdrant, Redis, embedded) implements Projection; the
// runner feeds it batches of decoded events in log order per partition,
// from Kafka (evented mode) or from the event_log table (direct mode).
package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/somafractalmemory/soma/domain"
)

// Read-model names: used in consumer-group names, metrics labels and
// consistency errors. Renaming one starts its consumer group from scratch.
const (
	Postgres = "postgres"
	Qdrant   = "qdrant"
	Redis    = "redis"
	Embedded = "embedded"
)

// Envelope is a decoded event with its position in the log.
type Envelope struct {
	Event domain.Event
	// Source is the Kafka topic, or consistency.EventLogSource.
	Source    string
	Partition int32
	Offset    int64
}

// Projection applies events to one read model.
//
// Contract (checked by the shared suite in projectiontest):
//   - Apply is all-or-nothing per call: the read-model changes of the batch
//     and the new applied position of every partition in it are committed
//     together, or nothing is.
//   - Apply is idempotent: an event at or below the applied position of
//     its (source, partition) is skipped, so redelivery changes nothing.
//   - Events of one partition arrive in offset order; a batch may mix
//     partitions.
//   - An error is transient (retry the same batch) unless it wraps
//     ErrPoison, which names an event that can never apply.
type Projection interface {
	Name() string
	Apply(ctx context.Context, batch []Envelope) error
	// Positions returns the offset of the last applied event of each
	// partition of source (absent partition: nothing applied yet).
	Positions(ctx context.Context, source string) (map[int32]int64, error)
}

// ErrPoison marks an event that can never be applied; the runner sends it
// to the dead-letter topic and moves on.
var ErrPoison = errors.New("event cannot be applied")

// PoisonError names the event of a batch that can never be applied. It
// wraps ErrPoison (and the underlying error, if any). Nothing of the batch
// was applied: the runner dead-letters the event at Index and applies the
// rest again. Every read model returns this type.
type PoisonError struct {
	// Index is the position of the event in the batch given to Apply.
	Index int
	// Envelope is the offending event with its log position.
	Envelope Envelope
	// Reason says what is wrong with the event.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *PoisonError) Error() string {
	name := "event"
	if e.Envelope.Event != nil {
		name = e.Envelope.Event.EventName() + " " + e.Envelope.Event.Metadata().EventID
	}
	return fmt.Sprintf("%s at %s[%d]@%d cannot be applied: %s", name, e.Envelope.Source, e.Envelope.Partition, e.Envelope.Offset, e.Reason)
}

// Unwrap returns ErrPoison and the underlying error.
func (e *PoisonError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrPoison}
	}
	return []error{ErrPoison, e.Err}
}
