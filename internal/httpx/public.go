package httpx

import (
	"context"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Public routes, served without authentication or rate limit.
const (
	RouteRoot    = "/"
	RouteHealthz = "/healthz"
	RouteHealth  = "/health"
	RouteReadyz  = "/readyz"
	RouteMetrics = "/metrics"
	RouteOpenAPI = "/openapi.json"
	RouteDocs    = "/docs"

	// RootMessage is the "message" of GET /.
	RootMessage = "SomaFractalMemory API is running"
)

// Readiness check results in /readyz bodies.
const (
	CheckOK      = "ok"
	CheckFailed  = "failed"
	CheckTimeout = "timeout"
)

// Check is a readiness check of one dependency: nil when usable. It must
// return when ctx is done.
type Check func(ctx context.Context) error

// HealthBody is the body of /healthz and /health.
type HealthBody struct {
	Status  string `json:"status"`
	Service string `json:"service"`
	Version string `json:"version"`
}

// ReadyBody is the body of /readyz. Check errors are logged, not returned:
// /readyz is public and errors may name internal hosts.
type ReadyBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	Failed []string          `json:"failed,omitempty"`
	Detail string            `json:"detail,omitempty"`
}

func registerPublic(e *gin.Engine, cfg Config, deps Deps, openapi, docs []byte) {
	health := func(c *gin.Context) {
		c.JSON(http.StatusOK, HealthBody{Status: "ok", Service: cfg.ServiceName, Version: cfg.Version})
	}
	e.GET(RouteRoot, func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"message": RootMessage, "metrics": RouteMetrics})
	})
	e.GET(RouteHealthz, health)
	e.GET(RouteHealth, health)
	e.GET(RouteReadyz, readyz(deps.ReadinessChecks, cfg.ReadyTimeout, cfg.ReadyRetryAfter, deps.Logger))
	metrics := promhttp.HandlerFor(deps.Registry, promhttp.HandlerOpts{Registry: deps.Registry})
	e.GET(RouteMetrics, gin.WrapH(metrics))
	e.GET(RouteOpenAPI, func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json", openapi)
	})
	e.GET(RouteDocs, func(c *gin.Context) {
		c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		c.Data(http.StatusOK, "text/html; charset=utf-8", docs)
	})
}

type checkResult struct {
	name string
	err  error
}

// readyz runs every check concurrently under one timeout. A check still
// running at the deadline is reported as timed out and left to finish on
// its own (its ctx is cancelled).
func readyz(checks map[string]Check, timeout, retryAfter time.Duration, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), timeout)
		defer cancel()
		results := make(chan checkResult, len(checks))
		for name, check := range checks {
			go func() {
				results <- checkResult{name: name, err: check(ctx)}
			}()
		}
		body := ReadyBody{Status: "ok", Checks: make(map[string]string, len(checks))}
		for name := range checks {
			body.Checks[name] = CheckTimeout
		}
	collect:
		for range checks {
			select {
			case r := <-results:
				if r.err == nil {
					body.Checks[r.name] = CheckOK
					continue
				}
				body.Checks[r.name] = CheckFailed
				log.WarnContext(ctx, "readiness check failed",
					slog.String("check", r.name), slog.String("error", r.err.Error()))
			case <-ctx.Done():
				break collect
			}
		}
		for name, st := range body.Checks {
			if st != CheckOK {
				body.Failed = append(body.Failed, name)
				if st == CheckTimeout {
					log.WarnContext(ctx, "readiness check timed out", slog.String("check", name))
				}
			}
		}
		if len(body.Failed) == 0 {
			c.JSON(http.StatusOK, body)
			return
		}
		sort.Strings(body.Failed)
		body.Status = "unavailable"
		body.Detail = "Dependencies not ready: " + strings.Join(body.Failed, ", ")
		setRetryAfter(c, retryAfter)
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, body)
	}
}
