package qdrant

import (
	"errors"
	"fmt"
	"regexp"
)

// Config configures a Projection.
type Config struct {
	// Collection is the serving name (default DefaultCollection): an alias
	// the recall side reads through. When neither an alias nor a
	// collection of that name exists, New creates the generation
	// Collection+"_g1" and points the alias at it.
	Collection string
	// Generation, when set, is the collection the projection writes to
	// (created if missing); the alias is then created only if it does not
	// exist yet, and Promote switches it. A replay sets it to build the next
	// generation beside the serving one. When empty, the projection writes
	// to whatever Collection names (the alias target, or a plain collection
	// of that name).
	Generation string
	// Dim is the dimension of every vector. Required; an existing
	// collection of another dimension is refused, never recreated.
	Dim int
	// EmbeddingModel, when set, is the only model whose vectors the index
	// accepts: a MemoryStored of another model is poison (vectors of
	// different models are never mixed in one index).
	EmbeddingModel string
	// BatchSize is the number of points per Upsert or Delete request
	// (default 256).
	BatchSize int
}

// DefaultBatchSize is the number of points per write request.
const DefaultBatchSize = 256

// ErrInvalidConfig is wrapped by Config.Validate errors.
var ErrInvalidConfig = errors.New("invalid qdrant projection config")

// namePattern is what Qdrant accepts in a collection name, restricted to
// names that need no escaping anywhere.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,200}$`)

func (c Config) withDefaults() Config {
	if c.Collection == "" {
		c.Collection = DefaultCollection
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	return c
}

// Validate reports every problem of the config at once. Empty Collection
// and BatchSize are valid (they mean the defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if !namePattern.MatchString(c.Collection) {
		errs = append(errs, fmt.Errorf("%w: collection %q must match %s", ErrInvalidConfig, c.Collection, namePattern))
	}
	if c.Generation != "" && !namePattern.MatchString(c.Generation) {
		errs = append(errs, fmt.Errorf("%w: generation %q must match %s", ErrInvalidConfig, c.Generation, namePattern))
	}
	if c.Generation == c.Collection {
		errs = append(errs, fmt.Errorf("%w: generation must differ from the serving name %q", ErrInvalidConfig, c.Collection))
	}
	if c.Dim <= 0 {
		errs = append(errs, fmt.Errorf("%w: Dim must be > 0, got %d", ErrInvalidConfig, c.Dim))
	}
	if c.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("%w: BatchSize must be > 0, got %d", ErrInvalidConfig, c.BatchSize))
	}
	return errors.Join(errs...)
}
