package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// Deps are the collaborators of an engine, built in main.
type Deps struct {
	// Registry receives the request metrics and is served on /metrics.
	// Required. Engines of one process may share it.
	Registry *prometheus.Registry
	// Logger receives access logs, panics and dependency warnings.
	// Nil: nothing is logged.
	Logger *slog.Logger
	// ReadinessChecks are run by /readyz, by dependency name.
	ReadinessChecks map[string]Check
	// OpenAPI is the API's OpenAPI 3.x JSON document. The public routes and
	// shared components are merged in (MergePublicPaths) before it is served
	// on /openapi.json and rendered on /docs. Nil: only the public routes.
	OpenAPI []byte
	// RateLimiter counts API requests. Nil: an in-process MemoryLimiter
	// with Config.RateLimit. Pass NewRedisLimiter(...) to share the limit
	// across replicas. Ignored when Config.RateLimit.Max is 0.
	RateLimiter RateLimiter
}

// Server is one API's HTTP engine.
type Server struct {
	// Engine serves every route; it is the http.Handler of the API.
	Engine *gin.Engine
	// API is the group for the API's own routes: auth, rate limit,
	// namespace validation and body limit run before their handlers.
	API *gin.RouterGroup
	// OpenAPI is the document served on /openapi.json.
	OpenAPI []byte

	cfg Config
	log *slog.Logger
}

// New validates cfg and builds the engine: middleware, public routes, the
// JSON 404/405 handlers and the API group. It does not touch gin's global
// mode: main sets gin.SetMode(gin.ReleaseMode).
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("http config: %w", err)
	}
	if deps.Registry == nil {
		return nil, errors.New("http deps: a prometheus registry is required")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	deps.Logger = log
	metrics, err := NewMetrics(deps.Registry)
	if err != nil {
		return nil, err
	}
	doc := deps.OpenAPI
	if len(doc) == 0 {
		doc = baseOpenAPI(cfg.ServiceName, cfg.Version)
	}
	doc, err = MergePublicPaths(doc)
	if err != nil {
		return nil, err
	}
	docs, err := renderDocs(doc)
	if err != nil {
		return nil, err
	}

	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	if err := e.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("http config: trusted proxies: %w", err)
	}
	e.Use(requestID(), accessLog(log), metrics.middleware(), recovery(log))
	e.NoRoute(func(c *gin.Context) { Error(c, http.StatusNotFound, DetailNotFound) })
	e.NoMethod(func(c *gin.Context) { Error(c, http.StatusMethodNotAllowed, DetailMethodNotAllowed) })
	registerPublic(e, cfg, deps, doc, docs)

	api := e.Group("/", newAuthenticator(cfg).middleware())
	if cfg.RateLimit.Enabled() {
		limiter := deps.RateLimiter
		if limiter == nil {
			limiter = NewMemoryLimiter(cfg.RateLimit)
		}
		api.Use(rateLimit(limiter, log))
	}
	api.Use(namespaceCheck(), bodyLimit(cfg.MaxBodyBytes, cfg.RouteMaxBodyBytes))

	return &Server{Engine: e, API: api, OpenAPI: doc, cfg: cfg, log: log}, nil
}

// ServeHTTP serves a request with the engine.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.Engine.ServeHTTP(w, r) }

// Run listens on addr and serves until ctx is cancelled, then shuts down
// gracefully within Config.ShutdownTimeout.
func (s *Server) Run(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is cancelled, then shuts down gracefully
// within Config.ShutdownTimeout. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Engine,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown %s: %w", ln.Addr(), err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}
