package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/somafractalmemory/soma/projections"
)

// PoisonError names the event of a batch that can never be applied. It
// wraps projections.ErrPoison (and the underlying error, if any). Nothing
// of the batch was applied: the caller dead-letters the event at Index and
// applies the rest again.
type PoisonError struct {
	// Index is the position of the event in the batch given to Apply (or
	// in the events given to Append).
	Index int
	// Envelope is the offending event with its log position (for Append:
	// the position it would have had).
	Envelope projections.Envelope
	// Reason says what is wrong with the event.
	Reason string
	// Err is the underlying error, if one was returned (by the encoder or
	// by Postgres); nil for events rejected by validation.
	Err error
}

func (e *PoisonError) Error() string {
	name := "event"
	if e.Envelope.Event != nil {
		name = e.Envelope.Event.EventName() + " " + e.Envelope.Event.Metadata().EventID
	}
	return fmt.Sprintf("%s at %s[%d]@%d cannot be applied: %s", name, e.Envelope.Source, e.Envelope.Partition, e.Envelope.Offset, e.Reason)
}

// Unwrap returns projections.ErrPoison and the underlying error.
func (e *PoisonError) Unwrap() []error {
	if e.Err == nil {
		return []error{projections.ErrPoison}
	}
	return []error{projections.ErrPoison, e.Err}
}

// isDataError reports whether err is Postgres refusing the data of a
// statement (SQLSTATE class 22 data exception, 23 integrity constraint
// violation, or 54 program limit exceeded): retrying the same batch cannot
// succeed, so the offending event is looked for.
func isDataError(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || len(pgErr.Code) < 2 {
		return false
	}
	switch pgErr.Code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}
