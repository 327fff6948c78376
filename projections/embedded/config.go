package embedded

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/somafractalmemory/soma/domain"
)

// DBFile is the name of the SQLite file inside Config.Dir. Renaming it
// makes every existing data dir look empty.
const DBFile = "soma.db"

// lockFile is held (flock) by the process that has the data dir open.
const lockFile = "soma.lock"

// Synchronous settings (SQLite PRAGMA synchronous, in WAL mode).
const (
	// SyncNormal: a commit survives the process being killed at any
	// moment (the WAL is in the OS page cache); an OS crash or power loss
	// may lose the last commits, never corrupt the file. The default.
	SyncNormal = "NORMAL"
	// SyncFull: every commit is fsynced before it returns; it also
	// survives power loss, at the cost of one fsync per commit.
	SyncFull = "FULL"
)

// Defaults of Config.
const (
	DefaultBusyTimeout = 5 * time.Second
	DefaultReadConns   = 4
)

// EventEncoder turns an event into the bytes stored in event_log.body
// (the schemas package provides the Avro one). An error wrapping
// projections.ErrPoison marks the event as never encodable; any other
// error is transient.
type EventEncoder interface {
	EncodeBody(domain.Event) ([]byte, error)
}

// EventDecoder reads event_log.body back (Events, History).
type EventDecoder interface {
	DecodeBody([]byte) (domain.Event, error)
}

// Config configures a Store.
type Config struct {
	// Dir is the data directory, created if missing. It holds DBFile (and
	// SQLite's -wal and -shm files beside it) and a lock file: one process
	// at a time may open it.
	Dir string
	// Encoder and Decoder convert event_log bodies. Required.
	Encoder EventEncoder
	Decoder EventDecoder
	// EmbeddingModel, when set, is the model of the vector index: only
	// vectors of that model are searchable, queries of another model are
	// refused. When empty the index keeps the model it was built with
	// (the model of the first vector ever stored).
	EmbeddingModel string
	// Synchronous is SyncNormal (default) or SyncFull.
	Synchronous string
	// BusyTimeout bounds how long a statement waits for a lock
	// (default DefaultBusyTimeout).
	BusyTimeout time.Duration
	// ReadConns is the size of the read connection pool (default
	// DefaultReadConns).
	ReadConns int
}

// ErrInvalidConfig is wrapped by Config.Validate errors.
var ErrInvalidConfig = errors.New("invalid embedded store config")

func (c Config) withDefaults() Config {
	if c.Synchronous == "" {
		c.Synchronous = SyncNormal
	}
	c.Synchronous = strings.ToUpper(c.Synchronous)
	if c.BusyTimeout == 0 {
		c.BusyTimeout = DefaultBusyTimeout
	}
	if c.ReadConns == 0 {
		c.ReadConns = DefaultReadConns
	}
	return c
}

// Validate reports every problem of the config at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if strings.TrimSpace(c.Dir) == "" {
		errs = append(errs, fmt.Errorf("%w: Dir is required", ErrInvalidConfig))
	}
	if c.Encoder == nil {
		errs = append(errs, fmt.Errorf("%w: Encoder is required", ErrInvalidConfig))
	}
	if c.Decoder == nil {
		errs = append(errs, fmt.Errorf("%w: Decoder is required", ErrInvalidConfig))
	}
	if c.Synchronous != SyncNormal && c.Synchronous != SyncFull {
		errs = append(errs, fmt.Errorf("%w: Synchronous %q, want %s or %s", ErrInvalidConfig, c.Synchronous, SyncNormal, SyncFull))
	}
	if c.BusyTimeout < 0 {
		errs = append(errs, fmt.Errorf("%w: BusyTimeout %v is negative", ErrInvalidConfig, c.BusyTimeout))
	}
	if c.ReadConns < 0 {
		errs = append(errs, fmt.Errorf("%w: ReadConns %d is negative", ErrInvalidConfig, c.ReadConns))
	}
	if strings.IndexByte(c.EmbeddingModel, 0) >= 0 {
		errs = append(errs, fmt.Errorf("%w: EmbeddingModel contains a NUL byte", ErrInvalidConfig))
	}
	return errors.Join(errs...)
}
