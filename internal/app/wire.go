package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	qc "github.com/qdrant/go-client/qdrant"
	"github.com/redis/go-redis/v9"

	"github.com/somafractalmemory/soma/internal/config"
	"github.com/somafractalmemory/soma/internal/embedding"
	"github.com/somafractalmemory/soma/internal/httpx"
	"github.com/somafractalmemory/soma/internal/idempotency"
	"github.com/somafractalmemory/soma/schemas"
)

// Runtime builds the parts a subcommand needs from the configuration,
// each at most once, and closes them in reverse order.
type Runtime struct {
	cfg config.Config
	log *slog.Logger
	reg *prometheus.Registry

	mu      sync.Mutex
	closers []func()
	pg      *pgxpool.Pool
	rdb     *redis.Client
	qdrant  *qc.Client
	emb     embedding.Embedder
	catalog *schemas.Catalog
	version string
}

func New(cfg config.Config, version string) *Runtime {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gin.SetMode(gin.ReleaseMode)
	return &Runtime{cfg: cfg, log: newLogger(cfg), reg: reg, version: version}
}

func newLogger(cfg config.Config) *slog.Logger {
	level := slog.LevelInfo
	switch cfg.LogLevel {
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

func (rt *Runtime) onClose(f func()) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.closers = append(rt.closers, f)
}

// Close closes everything the runtime opened, in reverse order.
func (rt *Runtime) Close() {
	rt.mu.Lock()
	cs := rt.closers
	rt.closers = nil
	rt.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

// Postgres returns the pool, or nil when POSTGRES_URL is not set.
func (rt *Runtime) Postgres(ctx context.Context) (*pgxpool.Pool, error) { return rt.postgres(ctx) }

// SetLogger replaces the runtime's logger; call it before building anything.
func (rt *Runtime) SetLogger(l *slog.Logger) { rt.log = l }

// Log is the runtime's logger.
func (rt *Runtime) Log() *slog.Logger { return rt.log }

// postgres returns the pool, or nil when POSTGRES_URL is not set.
func (rt *Runtime) postgres(ctx context.Context) (*pgxpool.Pool, error) {
	if rt.cfg.Postgres.URL == "" {
		return nil, nil
	}
	if rt.pg != nil {
		return rt.pg, nil
	}
	pc, err := pgxpool.ParseConfig(rt.cfg.Postgres.URL)
	if err != nil {
		return nil, fmt.Errorf("POSTGRES_URL: %w", redactErr(err, rt.cfg.Postgres.URL))
	}
	if rt.cfg.Postgres.MaxConns > 0 {
		pc.MaxConns = int32(rt.cfg.Postgres.MaxConns) // #nosec G115 -- config.Validate bounds SOMA_POSTGRES_MAX_CONNS to 0..MaxInt32
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", redactErr(err, rt.cfg.Postgres.URL))
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres %s: %w", pc.ConnConfig.Host, redactErr(err, rt.cfg.Postgres.URL))
	}
	rt.pg = pool
	rt.onClose(pool.Close)
	return pool, nil
}

// redis returns the client, or nil when Redis is not configured.
func (rt *Runtime) redis(ctx context.Context) (*redis.Client, error) {
	if rt.cfg.Redis.URL == "" {
		return nil, nil
	}
	if rt.rdb != nil {
		return rt.rdb, nil
	}
	opts, err := redis.ParseURL(rt.cfg.Redis.URL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", redactErr(err, rt.cfg.Redis.URL))
	}
	if rt.cfg.Redis.Password != "" && opts.Password == "" {
		opts.Password = rt.cfg.Redis.Password
	}
	c := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("redis %s: %w", opts.Addr, err)
	}
	rt.rdb = c
	rt.onClose(func() { _ = c.Close() })
	return c, nil
}

// qdrantClient returns the client, or nil when Qdrant is not configured.
func (rt *Runtime) qdrantClient() (*qc.Client, error) {
	q := rt.cfg.Qdrant
	if q.Host == "" {
		return nil, nil
	}
	if rt.qdrant != nil {
		return rt.qdrant, nil
	}
	c, err := qc.NewClient(&qc.Config{Host: q.Host, Port: q.Port, APIKey: q.APIKey, UseTLS: q.TLS})
	if err != nil {
		return nil, fmt.Errorf("qdrant %s:%d: %w", q.Host, q.Port, err)
	}
	rt.qdrant = c
	rt.onClose(func() { _ = c.Close() })
	return c, nil
}

func (rt *Runtime) embedder() (embedding.Embedder, error) {
	if rt.emb != nil {
		return rt.emb, nil
	}
	e := rt.cfg.Embedding
	emb, err := embedding.New(e.Kind, e.Dim, embedding.OpenAIConfig{
		BaseURL: e.URL, Model: e.Model, APIKey: e.APIKey, Dim: e.Dim, BatchSize: e.BatchSize, Timeout: e.Timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("embedder: %w", err)
	}
	rt.emb = emb
	return emb, nil
}

func (rt *Runtime) schemaCatalog() (*schemas.Catalog, error) {
	if rt.catalog == nil {
		c, err := schemas.BuiltinCatalog()
		if err != nil {
			return nil, err
		}
		rt.catalog = c
	}
	return rt.catalog, nil
}

// registryCodec prepares the registry (register or resolve the local
// schemas) and returns the codec of the topic. It refuses to start when
// the registry rejects a local schema.
func (rt *Runtime) registryCodec(ctx context.Context) (*schemas.Codec, error) {
	cat, err := rt.schemaCatalog()
	if err != nil {
		return nil, err
	}
	if problems := cat.Check(); len(problems) > 0 {
		return nil, fmt.Errorf("local schemas are not backward-transitive compatible: %v", problems)
	}
	rc, err := schemas.NewRegistryClient(schemas.RegistryConfig{
		URL: rt.cfg.Registry.URL, Topic: rt.cfg.Kafka.Topic, Timeout: rt.cfg.Registry.Timeout, AutoRegister: rt.cfg.Registry.AutoRegister,
		Username: rt.cfg.Registry.Username, Password: rt.cfg.Registry.Password,
	}, cat, http.DefaultClient)
	if err != nil {
		return nil, err
	}
	if err := rt.retry(ctx, "schema registry", func(ctx context.Context) error { return rc.Prepare(ctx) }, func(err error) bool {
		return !errors.Is(err, schemas.ErrSchemaRejected) && !errors.Is(err, schemas.ErrNotRegistered)
	}); err != nil {
		return nil, err
	}
	return schemas.NewCodec(cat, rc)
}

// localCodec frames event_log bodies without a registry.
func (rt *Runtime) localCodec() (*schemas.Codec, error) {
	cat, err := rt.schemaCatalog()
	if err != nil {
		return nil, err
	}
	src, err := schemas.NewLocalSource(cat)
	if err != nil {
		return nil, err
	}
	return schemas.NewCodec(cat, src)
}

// saramaClient connects to Kafka with cfg (from kafkaconf).
func (rt *Runtime) saramaClient(ctx context.Context, cfg *sarama.Config) (sarama.Client, error) {
	var c sarama.Client
	err := rt.retry(ctx, "kafka", func(context.Context) error {
		var err error
		c, err = sarama.NewClient(rt.cfg.Kafka.Settings.Brokers, cfg)
		return err
	}, nil)
	if err != nil {
		return nil, err
	}
	rt.onClose(func() { _ = c.Close() })
	return c, nil
}

// retry runs f until it succeeds, ctx ends, 60 s pass, or transient says
// the error is final: services started together come up in any order.
func (rt *Runtime) retry(ctx context.Context, what string, f func(context.Context) error, transient func(error) bool) error {
	deadline := time.Now().Add(60 * time.Second)
	wait := 250 * time.Millisecond
	for {
		err := f(ctx)
		if err == nil {
			return nil
		}
		if (transient != nil && !transient(err)) || time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		rt.log.Warn("waiting for dependency", "dependency", what, "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// httpConfig maps the configuration to an API engine's settings.
func (rt *Runtime) httpConfig(service string) httpx.Config {
	h := rt.cfg.HTTP
	c := httpx.DefaultConfig()
	c.ServiceName = service
	c.Version = rt.version
	c.APIToken = h.Token
	c.ScopedTokens = h.ScopedTokens
	c.DefaultNamespace = rt.cfg.Namespace
	c.RateLimit = httpx.RateLimit{Max: h.RateLimitMax, Window: h.RateLimitWindow}
	c.MaxBodyBytes = h.MaxBodyBytes
	return c
}

// httpServer builds an API engine with the shared middleware; the rate
// limiter and idempotency store are shared through Redis when configured.
func (rt *Runtime) httpServer(ctx context.Context, cfg httpx.Config, openapi []byte, checks map[string]httpx.Check) (*httpx.Server, error) {
	deps := httpx.Deps{Registry: rt.reg, Logger: rt.log, ReadinessChecks: checks, OpenAPI: openapi}
	rdb, err := rt.redis(ctx)
	if err != nil {
		return nil, err
	}
	if rdb != nil && cfg.RateLimit.Enabled() {
		deps.RateLimiter = httpx.NewRedisLimiter(rdb, cfg.RateLimit)
	}
	return httpx.New(cfg, deps)
}

func (rt *Runtime) idempotencyStore(ctx context.Context) (idempotency.Store, error) {
	rdb, err := rt.redis(ctx)
	if err != nil {
		return nil, err
	}
	if rdb != nil {
		return idempotency.NewRedis(rdb, rt.cfg.Redis.Prefix), nil
	}
	return idempotency.NewMemory(0, nil), nil
}

// redactErr removes a URL (which may hold a password) from an error text.
func redactErr(err error, url string) error {
	if url == "" || !strings.Contains(err.Error(), url) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), url, "<redacted>"))
}
