// Package commands holds the write side's use cases: one file per command,
// each a handler type with a constructor. Handlers validate, embed, decide
// (domain) and append the resulting events to the event sink: the Kafka
// topic in evented mode, the projections directly otherwise. HTTP mapping
// lives in commands/httpapi only.
package commands

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
)

// Application lists every command the service accepts.
type Application struct {
	Store         *StoreMemoryHandler
	Remember      *RememberHandler
	StoreBulk     *StoreBulkHandler
	Link          *LinkMemoriesHandler
	Unlink        *UnlinkMemoriesHandler
	Delete        *DeleteMemoryHandler
	DeleteMany    *DeleteManyHandler
	SetImportance *SetImportanceHandler
	Import        *ImportMemoriesHandler
}

// EventSink appends events to the log and returns their positions once
// they are durable. It either appends all events or returns an error; an
// error wrapping ErrUnavailable means the log could not be reached in time.
type EventSink interface {
	Append(ctx context.Context, events []domain.Event) (consistency.Token, error)
}

// Directory tells which coordinates hold a memory (keys are
// Coordinate.Key()). It is read for answers only (404 on link and
// set_importance, counts of delete_many), never to shape an event.
type Directory interface {
	Existing(ctx context.Context, namespace string, keys []string) (map[string]bool, error)
}

// Embedder turns texts into vectors (internal/embedding implements it).
type Embedder interface {
	Model() string
	Dim() int
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// ErrUnavailable marks a dependency (event log, directory, embedder) that
// did not answer in time; the APIs answer 503 with Retry-After.
var ErrUnavailable = errors.New("service unavailable")

// ErrBadGateway marks an embeddings server that answered, but wrongly or
// with a refusal (bad key, unknown model); the APIs answer 502.
var ErrBadGateway = errors.New("embeddings server refused or answered wrongly")

// Caller identifies who sends a command and for which tenant.
type Caller struct {
	Namespace      string
	Actor          string
	IdempotencyKey string
}

// Accepted is the answer to an accepted command.
type Accepted struct {
	EventIDs []string
	Token    consistency.Token
}

// Deps are what the handlers need.
type Deps struct {
	Sink      EventSink
	Directory Directory
	Embedder  Embedder
	// Now and NewID default to time.Now and UUIDv7.
	Now   func() time.Time
	NewID func() string
	// RecentCapacity bounds the in-process memory of recent writes that
	// Directory answers are corrected with (default 100000 keys).
	RecentCapacity int
}

// NewApplication wires every handler over one shared core.
func NewApplication(d Deps) *Application {
	c := newCore(d)
	return &Application{
		Store:         &StoreMemoryHandler{c: c},
		Remember:      &RememberHandler{c: c},
		StoreBulk:     &StoreBulkHandler{c: c},
		Link:          &LinkMemoriesHandler{c: c},
		Unlink:        &UnlinkMemoriesHandler{c: c},
		Delete:        &DeleteMemoryHandler{c: c},
		DeleteMany:    &DeleteManyHandler{c: c},
		SetImportance: &SetImportanceHandler{c: c},
		Import:        &ImportMemoriesHandler{c: c},
	}
}

func defaultNewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
