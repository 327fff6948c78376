package redis

import (
	"fmt"
	"reflect"

	"github.com/somafractalmemory/soma/projections"
)

// PoisonError names the event of a batch that can never be applied. It
// wraps projections.ErrPoison. Nothing of the batch was written: the
// caller dead-letters the event at Index and applies the rest again.
type PoisonError struct {
	// Index is the position of the event in the batch given to Apply.
	Index int
	// Envelope is the offending event with its log position.
	Envelope projections.Envelope
	// Reason says what is wrong with the event.
	Reason string
}

func (e *PoisonError) Error() string {
	name := "event"
	if ev := e.Envelope.Event; ev != nil && !isNilPointer(ev) {
		name = ev.EventName() + " " + ev.Metadata().EventID
	}
	return fmt.Sprintf("%s at %s[%d]@%d cannot be applied to redis: %s", name, e.Envelope.Source, e.Envelope.Partition, e.Envelope.Offset, e.Reason)
}

// Unwrap returns projections.ErrPoison.
func (e *PoisonError) Unwrap() error { return projections.ErrPoison }

func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
