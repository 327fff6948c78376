package postgres

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/somafractalmemory/soma/domain"
)

// DefaultSchema is the Postgres schema that holds the serving read model.
// A replay builds the next generation in another schema beside it.
const DefaultSchema = "soma"

// NotifyChannel is the LISTEN/NOTIFY channel on which every committed
// Apply announces new positions; the payload is the schema name. Part of
// the contract with the query API: renaming it silences read-your-writes
// wake-ups.
const NotifyChannel = "soma_positions"

// schemaPattern restricts schema names to lower-case unquoted identifiers,
// so that a name is the same whether quoted or not and fits in NAMEDATALEN.
var schemaPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// EventEncoder turns an event into the bytes stored in event_log.body,
// from which /history shows a memory's events. The schemas package
// provides the Avro one.
//
// An error wrapping projections.ErrPoison marks the event as never
// encodable (it goes to the dead-letter topic); any other error is treated
// as transient (for example a schema registry that cannot be reached).
type EventEncoder interface {
	EncodeBody(domain.Event) ([]byte, error)
}

// EventDecoder turns an event_log body back into the event. Only
// Projection.Events (reading the log of direct-write mode) needs it.
type EventDecoder interface {
	DecodeBody([]byte) (domain.Event, error)
}

// Config configures a Projection.
type Config struct {
	// Schema is the Postgres schema holding the tables (default
	// DefaultSchema). It must match ^[a-z_][a-z0-9_]{0,62}$ and have been
	// migrated with Migrate.
	Schema string
	// Encoder produces event_log bodies. Required.
	Encoder EventEncoder
	// Decoder reads event_log bodies back. Optional: without it, Events
	// fails with ErrNoDecoder.
	Decoder EventDecoder
}

// ErrInvalidConfig is wrapped by Config.Validate errors.
var ErrInvalidConfig = errors.New("invalid postgres projection config")

func (c Config) withDefaults() Config {
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	return c
}

// Validate reports every problem of the config at once. An empty Schema
// is valid (it means DefaultSchema).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if err := ValidateSchemaName(c.Schema); err != nil {
		errs = append(errs, err)
	}
	if c.Encoder == nil {
		errs = append(errs, fmt.Errorf("%w: Encoder is required", ErrInvalidConfig))
	}
	return errors.Join(errs...)
}

// ValidateSchemaName checks a Postgres schema name against the accepted
// form (lower-case letters, digits and underscores, not starting with a
// digit, at most 63 bytes).
func ValidateSchemaName(schema string) error {
	if !schemaPattern.MatchString(schema) {
		return fmt.Errorf("%w: schema %q must match %s", ErrInvalidConfig, schema, schemaPattern)
	}
	return nil
}
