package httpx_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/somafractalmemory/soma/internal/httpx"
	"github.com/somafractalmemory/soma/internal/testenv"
)

// redisClient returns a new client on the test Redis; each call is a new
// connection pool, as two replicas would have.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("redis url: %v", err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis ping: %v", err)
	}
	return c
}

// uniqueKey returns a limiter key no other test run uses, deleted at the end.
func uniqueKey(t *testing.T, c *redis.Client) string {
	key := "test-" + uuid.NewString()
	t.Cleanup(func() { c.Del(context.Background(), httpx.RedisRateLimitKeyPrefix+key) })
	return key
}

func TestRedisLimiterIsSharedAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	c1, c2 := redisClient(t), redisClient(t)
	limit := httpx.RateLimit{Max: 3, Window: 10 * time.Second}
	clock := newFakeClock()
	replica1 := httpx.NewRedisLimiter(c1, limit, httpx.WithClock(clock.Now))
	replica2 := httpx.NewRedisLimiter(c2, limit, httpx.WithClock(clock.Now))
	key := uniqueKey(t, c1)

	allow := func(l *httpx.RedisLimiter) httpx.Decision {
		t.Helper()
		d, err := l.Allow(ctx, key)
		if err != nil {
			t.Fatalf("Allow: %v", err)
		}
		return d
	}
	// t=0s, 1s on replica 1, t=2s on replica 2.
	if d := allow(replica1); !d.Allowed || d.Remaining != 2 {
		t.Fatalf("1st: %+v", d)
	}
	clock.Advance(time.Second)
	if d := allow(replica1); !d.Allowed || d.Remaining != 1 {
		t.Fatalf("2nd: %+v", d)
	}
	clock.Advance(time.Second)
	if d := allow(replica2); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("3rd, other replica: %+v", d)
	}
	clock.Advance(time.Second) // t=3s
	if d := allow(replica2); d.Allowed || d.RetryAfter != 7*time.Second {
		t.Fatalf("4th on replica 2: %+v, want refused with RetryAfter 7s", d)
	}
	if d := allow(replica1); d.Allowed {
		t.Fatalf("4th on replica 1: %+v, want refused", d)
	}
	clock.Advance(7 * time.Second) // t=10s: the t=0s request left the window
	if d := allow(replica2); !d.Allowed {
		t.Fatalf("at t=10s: %+v", d)
	}
	if d := allow(replica1); d.Allowed || d.RetryAfter != time.Second {
		t.Fatalf("at t=10s again: %+v, want refused with RetryAfter 1s", d)
	}
	ttl, err := c1.PTTL(ctx, httpx.RedisRateLimitKeyPrefix+key).Result()
	if err != nil || ttl <= 0 || ttl > limit.Window {
		t.Fatalf("key TTL = %v, %v; want within the window", ttl, err)
	}
}

func TestRedisLimiterServerClock(t *testing.T) {
	ctx := context.Background()
	c := redisClient(t)
	limit := httpx.RateLimit{Max: 2, Window: time.Minute}
	l := httpx.NewRedisLimiter(c, limit)
	key := uniqueKey(t, c)
	for i := range 2 {
		if d, err := l.Allow(ctx, key); err != nil || !d.Allowed {
			t.Fatalf("request %d: %+v %v", i+1, d, err)
		}
	}
	d, err := l.Allow(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > limit.Window {
		t.Fatalf("3rd: %+v, want refused with 0 < RetryAfter <= 1m", d)
	}
}

func TestRedisLimiterBehindTwoEngines(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig()
	cfg.APIToken = "tok"
	cfg.RateLimit = httpx.RateLimit{Max: 2, Window: 30 * time.Second}
	route := "/limited-" + uuid.NewString()
	var engines []*httpx.Server
	for range 2 {
		c := redisClient(t)
		s := newServer(t, cfg, httpx.Deps{RateLimiter: httpx.NewRedisLimiter(c, cfg.RateLimit, httpx.WithClock(clock.Now))})
		s.API.GET(route, func(c *gin.Context) { c.Status(http.StatusNoContent) })
		engines = append(engines, s)
		t.Cleanup(func() { c.Del(context.Background(), httpx.RedisRateLimitKeyPrefix+route+"|token:api-token") })
	}
	for i, want := range []int{http.StatusNoContent, http.StatusNoContent, http.StatusTooManyRequests, http.StatusTooManyRequests} {
		rec := do(t, engines[i%2], http.MethodGet, route, nil, bearer("tok"))
		if rec.Code != want {
			t.Fatalf("request %d on engine %d: %d, want %d", i+1, i%2, rec.Code, want)
		}
		if want == http.StatusTooManyRequests {
			assertLimited(t, rec, "30")
		}
	}
}

func TestRedisLimiterReportsErrors(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	l := httpx.NewRedisLimiter(c, httpx.RateLimit{Max: 1, Window: time.Second})
	if _, err := l.Allow(context.Background(), "k"); err == nil {
		t.Fatal("Allow succeeded without Redis")
	}
	disabled := httpx.NewRedisLimiter(c, httpx.RateLimit{})
	if d, err := disabled.Allow(context.Background(), "k"); err != nil || !d.Allowed {
		t.Fatalf("a disabled limit must not call Redis: %+v %v", d, err)
	}
}
