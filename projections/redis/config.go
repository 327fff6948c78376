package redis

import (
	"errors"
	"fmt"
	"regexp"
)

// Defaults of Config.
const (
	// DefaultPrefix starts every key of the read model.
	DefaultPrefix = "soma"
	// DefaultGeneration is the generation written when none is configured,
	// and the one served while no generation was ever promoted.
	DefaultGeneration = "g1"
	// DefaultChunkEvents is the number of events per script call.
	DefaultChunkEvents = 500
)

// MaxChunkEvents bounds Config.ChunkEvents (the argument count of one
// script call stays far below Redis' limits).
const MaxChunkEvents = 10000

// ErrInvalidConfig is wrapped by Config.Validate errors.
var ErrInvalidConfig = errors.New("invalid redis projection config")

var (
	// prefixPattern: colon-separated segments of letters, digits, '.', '_'
	// and '-' (no glob characters, no braces: see Keys).
	prefixPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+(:[A-Za-z0-9._-]+)*$`)
	// generationPattern: one segment, so it can sit inside a hash tag.
	generationPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// maxNameLen bounds Prefix and Generation.
const maxNameLen = 64

// Config configures a Projection.
type Config struct {
	// Prefix starts every key (default DefaultPrefix): colon-separated
	// segments of letters, digits, '.', '_' and '-', at most 64 bytes.
	Prefix string
	// Generation is the generation the projection writes (default
	// DefaultGeneration): letters, digits, '.', '_' and '-', at most 64
	// bytes. A replay writes a new generation beside the serving one and
	// switches to it with Promote.
	Generation string
	// ChunkEvents is the number of events per script call (default
	// DefaultChunkEvents, at most MaxChunkEvents). Every chunk of one Apply
	// call is sent in one MULTI/EXEC, so it bounds the size of one script
	// invocation, not the atomicity of the call nor how long Redis is busy
	// with it: Redis runs the whole call at once (on the order of 10 µs per
	// event), so the caller's batch size bounds that pause.
	ChunkEvents int
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Generation == "" {
		c.Generation = DefaultGeneration
	}
	if c.ChunkEvents == 0 {
		c.ChunkEvents = DefaultChunkEvents
	}
	return c
}

// Validate reports every problem of the config at once. Zero values are
// valid (they mean the defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if err := ValidatePrefix(c.Prefix); err != nil {
		errs = append(errs, err)
	}
	if err := ValidateGeneration(c.Generation); err != nil {
		errs = append(errs, err)
	}
	if c.ChunkEvents < 1 || c.ChunkEvents > MaxChunkEvents {
		errs = append(errs, fmt.Errorf("%w: ChunkEvents must be in 1..%d, got %d", ErrInvalidConfig, MaxChunkEvents, c.ChunkEvents))
	}
	return errors.Join(errs...)
}

// ValidatePrefix checks a key prefix against the accepted form.
func ValidatePrefix(prefix string) error {
	if len(prefix) > maxNameLen || !prefixPattern.MatchString(prefix) {
		return fmt.Errorf("%w: prefix %q must match %s and be at most %d bytes", ErrInvalidConfig, prefix, prefixPattern, maxNameLen)
	}
	return nil
}

// ValidateGeneration checks a generation name against the accepted form.
func ValidateGeneration(generation string) error {
	if len(generation) > maxNameLen || !generationPattern.MatchString(generation) {
		return fmt.Errorf("%w: generation %q must match %s and be at most %d bytes", ErrInvalidConfig, generation, generationPattern, maxNameLen)
	}
	return nil
}
