package embedded

import (
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/projections"
)

// ErrClosed is returned by every call on a closed Store.
var ErrClosed = errors.New("embedded store is closed")

// PoisonError names the event of a batch that can never be applied. It
// wraps projections.ErrPoison (and the underlying error, if any). Nothing
// of the batch was applied.
type PoisonError struct {
	// Index is the position of the event in the batch given to Apply (or
	// in the events given to Append).
	Index int
	// Envelope is the offending event with its log position (for Append:
	// the position it would have had).
	Envelope projections.Envelope
	// Reason says what is wrong with the event.
	Reason string
	// Err is the underlying error (the encoder's), if any.
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

// unavailable wraps SQLite errors that say the database could not be used
// right now (locked, I/O, disk full, out of memory) with
// commands.ErrUnavailable, so the write API answers 503; other errors are
// returned as they are.
func unavailable(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_READONLY:
		return fmt.Errorf("%w: %w", commands.ErrUnavailable, err)
	}
	return err
}
