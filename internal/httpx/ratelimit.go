package httpx

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// RateLimiter decides whether one more request under key is allowed now.
// Allowed requests are recorded; refused ones are not, so a client that
// keeps retrying is let in again as soon as its oldest request leaves the
// window. Implementations are safe for concurrent use.
type RateLimiter interface {
	Allow(ctx context.Context, key string) (Decision, error)
}

// Decision of a RateLimiter.
type Decision struct {
	Allowed bool
	// Remaining requests in the window after this one (0 when refused).
	Remaining int
	// RetryAfter is how long until a slot frees (refused requests only).
	RetryAfter time.Duration
}

// LimiterOption configures a limiter.
type LimiterOption func(*limiterOptions)

type limiterOptions struct {
	now     func() time.Time
	maxKeys int
}

// WithClock makes a limiter read time from now instead of the wall clock
// (tests). The Redis limiter otherwise uses the Redis server's clock, so
// every replica agrees on time.
func WithClock(now func() time.Time) LimiterOption {
	return func(o *limiterOptions) { o.now = now }
}

// WithMaxKeys bounds the number of keys an in-process limiter remembers
// (default DefaultLimiterMaxKeys).
func WithMaxKeys(n int) LimiterOption {
	return func(o *limiterOptions) { o.maxKeys = n }
}

// rateLimit counts every request that reaches it (it runs after
// authentication, so 401/403 are never counted) under "route|client",
// where client is the token label when authenticated, else the client IP.
// A limiter error is logged and the request let through: the limit
// protects the service, it must not take it down with Redis.
func rateLimit(limiter RateLimiter, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		d, err := limiter.Allow(c.Request.Context(), rateLimitKey(c))
		if err != nil {
			log.WarnContext(c.Request.Context(), "rate limiter unavailable, request allowed",
				slog.String("error", err.Error()),
				slog.String("request_id", RequestID(c)))
			c.Next()
			return
		}
		if !d.Allowed {
			setRetryAfter(c, d.RetryAfter)
			Error(c, http.StatusTooManyRequests, DetailRateLimited)
			return
		}
		c.Next()
	}
}

func rateLimitKey(c *gin.Context) string {
	client := "ip:" + c.ClientIP()
	if a := getString(c, keyActor); a != "" && a != AnonymousActor {
		client = "token:" + a
	}
	return c.FullPath() + "|" + client
}
