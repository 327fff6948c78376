package httpx

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
)

// accessLog writes one structured record per request. It logs the route
// template and the path without query string, never headers or bodies, so
// no secret (Authorization, tokens in queries) reaches the log.
func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		route := c.FullPath()
		if route == "" {
			route = UnmatchedEndpoint
		}
		attrs := []slog.Attr{
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Duration("latency", time.Since(start)),
			slog.String("request_id", RequestID(c)),
			slog.String("client_ip", c.ClientIP()),
			slog.Int("bytes", c.Writer.Size()),
		}
		if ns := Namespace(c); ns != "" {
			attrs = append(attrs, slog.String("namespace", ns))
		}
		if actor := Actor(c); actor != "" {
			attrs = append(attrs, slog.String("actor", actor))
		}
		log.LogAttrs(c.Request.Context(), level, "http request", attrs...)
	}
}
