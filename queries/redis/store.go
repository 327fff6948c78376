// Package redis serves the query side from the Redis read model written by
// projections/redis: records by coordinate key (recall hydration, one round
// trip for all keys), per-namespace counts, and applied positions for
// read-your-writes.
//
// A Store reads either a fixed generation or the serving one, which it
// resolves through the pointer "<prefix>:current" (projections/redis
// Current) and trusts for Config.PointerTTL, so a promoted replay is
// picked up within that time without a restart.
package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/somafractalmemory/soma/domain"
	redisproj "github.com/somafractalmemory/soma/projections/redis"
	"github.com/somafractalmemory/soma/queries"
)

// DefaultPointerTTL is how long a resolved serving generation is used
// before the pointer is read again.
const DefaultPointerTTL = 2 * time.Second

// ErrInvalidConfig is wrapped by Config.Validate errors.
var ErrInvalidConfig = errors.New("invalid redis query config")

// Config configures a Store.
type Config struct {
	// Prefix of the read model's keys (default redisproj.DefaultPrefix).
	Prefix string
	// Generation, when set, is read always. When empty the Store reads the
	// serving generation (the pointer, or redisproj.DefaultGeneration when
	// none was ever promoted).
	Generation string
	// PointerTTL is how long a resolved serving generation is trusted
	// (default DefaultPointerTTL); negative means the pointer is read
	// before every call. Unused with a fixed Generation.
	PointerTTL time.Duration
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = redisproj.DefaultPrefix
	}
	if c.PointerTTL == 0 {
		c.PointerTTL = DefaultPointerTTL
	}
	return c
}

// Validate reports every problem of the config at once. Zero values are
// valid (they mean the defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if err := redisproj.ValidatePrefix(c.Prefix); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidConfig, err))
	}
	if c.Generation != "" {
		if err := redisproj.ValidateGeneration(c.Generation); err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidConfig, err))
		}
	}
	return errors.Join(errs...)
}

// Store reads the Redis read model. It is safe for concurrent use.
type Store struct {
	client goredis.UniversalClient
	cfg    Config
	err    error // configuration error, returned by every call

	fixed *redisproj.Reader // with a fixed Generation

	mu      sync.Mutex
	serving *redisproj.Reader // last resolved serving generation
	checked time.Time         // when serving was resolved
}

var (
	_ queries.RecordStore    = (*Store)(nil)
	_ queries.Counter        = (*Store)(nil)
	_ queries.PositionReader = (*Store)(nil)
)

// New returns a Store over client. It does no I/O; an invalid config or a
// nil client is returned by every later call.
func New(client goredis.UniversalClient, cfg Config) *Store {
	cfg = cfg.withDefaults()
	s := &Store{client: client, cfg: cfg, err: cfg.Validate()}
	if client == nil {
		s.err = errors.Join(s.err, fmt.Errorf("%w: nil client", ErrInvalidConfig))
	}
	if cfg.Generation != "" {
		s.fixed = redisproj.NewReader(client, cfg.Prefix, cfg.Generation)
	}
	return s
}

// Generation returns the generation the next call reads.
func (s *Store) Generation(ctx context.Context) (string, error) {
	r, err := s.reader(ctx)
	if err != nil {
		return "", err
	}
	return r.Keys().Generation(), nil
}

// Records returns the memories at keys (domain.Coordinate.Key()) of
// namespace, keyed by coordinate key; missing keys are absent. All keys
// are read in one round trip.
func (s *Store) Records(ctx context.Context, namespace string, keys []string) (map[string]domain.Memory, error) {
	r, err := s.reader(ctx)
	if err != nil {
		return nil, err
	}
	return r.Records(ctx, namespace, keys)
}

// Counts returns the counts of namespace (zero for an unknown one).
func (s *Store) Counts(ctx context.Context, namespace string) (queries.Stats, error) {
	r, err := s.reader(ctx)
	if err != nil {
		return queries.Stats{}, err
	}
	total, episodic, semantic, err := r.Counts(ctx, namespace)
	if err != nil {
		return queries.Stats{}, err
	}
	return queries.Stats{Total: total, Episodic: episodic, Semantic: semantic}, nil
}

// Positions returns the applied offset of every partition of source in
// the generation read.
func (s *Store) Positions(ctx context.Context, source string) (map[int32]int64, error) {
	r, err := s.reader(ctx)
	if err != nil {
		return nil, err
	}
	return r.Positions(ctx, source)
}

// reader returns the reader of the generation to read, resolving the
// pointer when the cached one is older than PointerTTL. The pointer is
// read without holding the lock; concurrent refreshes are harmless.
func (s *Store) reader(ctx context.Context) (*redisproj.Reader, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.fixed != nil {
		return s.fixed, nil
	}
	s.mu.Lock()
	r, checked := s.serving, s.checked
	s.mu.Unlock()
	if r != nil && s.cfg.PointerTTL > 0 && time.Since(checked) < s.cfg.PointerTTL {
		return r, nil
	}
	start := time.Now()
	gen, err := redisproj.Current(ctx, s.client, s.cfg.Prefix)
	if err != nil {
		return nil, err
	}
	if err := redisproj.ValidateGeneration(gen); err != nil {
		return nil, fmt.Errorf("redis pointer %s: %w", redisproj.PointerKey(s.cfg.Prefix), err)
	}
	if r == nil || r.Keys().Generation() != gen {
		r = redisproj.NewReader(s.client, s.cfg.Prefix, gen)
	}
	s.mu.Lock()
	if start.After(s.checked) {
		s.serving, s.checked = r, start
	}
	s.mu.Unlock()
	return r, nil
}
