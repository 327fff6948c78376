package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/somafractalmemory/soma/internal/httpx"
)

// limitedServer has a limit of max per 10s on an in-process limiter driven
// by clock, a token "tok" (label api-token), a scoped token "tok-b"
// (label agent-b) and routes /echo, /other and /invalid (always 422).
func limitedServer(t *testing.T, max int, clock *fakeClock) *httpx.Server {
	t.Helper()
	cfg := testConfig()
	cfg.RateLimit = httpx.RateLimit{Max: max, Window: 10 * time.Second}
	cfg.APIToken = "tok"
	cfg.ScopedTokens = []httpx.ScopedToken{{Label: "agent-b", Token: "tok-b", Namespaces: []string{"b"}}}
	s := newServer(t, cfg, httpx.Deps{RateLimiter: httpx.NewMemoryLimiter(cfg.RateLimit, httpx.WithClock(clock.Now))})
	s.API.GET("/other", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	s.API.POST("/invalid", func(c *gin.Context) {
		httpx.ValidationError(c, []httpx.FieldError{{Loc: []any{"body", "coord"}, Msg: "bad", Type: "value_error"}})
	})
	return s
}

func assertLimited(t *testing.T, rec *httptest.ResponseRecorder, retryAfter string) {
	t.Helper()
	assertJSON(t, rec, http.StatusTooManyRequests, `{"detail":"Rate limit exceeded"}`)
	if got := rec.Header().Get("Retry-After"); got != retryAfter {
		t.Fatalf("Retry-After = %q, want %q", got, retryAfter)
	}
}

func TestRateLimitSlidingWindow(t *testing.T) {
	clock := newFakeClock()
	s := limitedServer(t, 3, clock)
	get := func() *httptest.ResponseRecorder { return do(t, s, http.MethodGet, "/echo", nil, bearer("tok")) }

	for i := range 3 { // at t=0s, 1s, 2s
		if rec := get(); rec.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, rec.Code)
		}
		clock.Advance(time.Second)
	}
	// t=3s: the request of t=0s frees its slot at t=10s.
	assertLimited(t, get(), "7")
	clock.Advance(6500 * time.Millisecond) // t=9.5s
	assertLimited(t, get(), "1")
	clock.Advance(500 * time.Millisecond) // t=10s: the first request left the window
	if rec := get(); rec.Code != http.StatusOK {
		t.Fatalf("after the oldest request left the window: %d", rec.Code)
	}
	// Sliding, not fixed: the requests of t=1s and t=2s still count.
	assertLimited(t, get(), "1")
	clock.Advance(time.Second) // t=11s
	if rec := get(); rec.Code != http.StatusOK {
		t.Fatalf("at t=11s: %d", rec.Code)
	}
}

func TestRateLimitKeys(t *testing.T) {
	t.Run("separates_routes", func(t *testing.T) {
		s := limitedServer(t, 1, newFakeClock())
		if rec := do(t, s, http.MethodGet, "/echo", nil, bearer("tok")); rec.Code != http.StatusOK {
			t.Fatal(rec.Code)
		}
		if rec := do(t, s, http.MethodGet, "/other", nil, bearer("tok")); rec.Code != http.StatusNoContent {
			t.Fatalf("another route has its own window: %d", rec.Code)
		}
		assertLimited(t, do(t, s, http.MethodGet, "/echo", nil, bearer("tok")), "10")
	})
	t.Run("separates_tokens", func(t *testing.T) {
		s := limitedServer(t, 1, newFakeClock())
		do(t, s, http.MethodGet, "/echo", nil, bearer("tok"))
		if rec := do(t, s, http.MethodGet, "/echo", nil, bearer("tok-b"), ns("b")); rec.Code != http.StatusOK {
			t.Fatalf("another token has its own window: %d", rec.Code)
		}
	})
	t.Run("separates_client_ips_without_auth", func(t *testing.T) {
		cfg := testConfig()
		cfg.RateLimit = httpx.RateLimit{Max: 1, Window: time.Minute}
		s := newServer(t, cfg, httpx.Deps{RateLimiter: httpx.NewMemoryLimiter(cfg.RateLimit, httpx.WithClock(newFakeClock().Now))})
		from := func(addr string) int {
			req := httptest.NewRequest(http.MethodGet, "/echo", nil)
			req.RemoteAddr = addr
			return serve(s, req).Code
		}
		if c := from("198.51.100.1:1000"); c != http.StatusOK {
			t.Fatal(c)
		}
		if c := from("198.51.100.1:2000"); c != http.StatusTooManyRequests {
			t.Fatalf("same IP, other port: %d, want 429", c)
		}
		if c := from("198.51.100.2:1000"); c != http.StatusOK {
			t.Fatalf("other IP: %d, want 200", c)
		}
	})
	t.Run("ignores_forwarded_for_from_untrusted_peers", func(t *testing.T) {
		cfg := testConfig()
		cfg.RateLimit = httpx.RateLimit{Max: 1, Window: time.Minute}
		s := newServer(t, cfg, httpx.Deps{RateLimiter: httpx.NewMemoryLimiter(cfg.RateLimit, httpx.WithClock(newFakeClock().Now))})
		for i, want := range []int{http.StatusOK, http.StatusTooManyRequests} {
			req := httptest.NewRequest(http.MethodGet, "/echo", nil)
			req.RemoteAddr = "198.51.100.7:1000"
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
			if c := serve(s, req).Code; c != want {
				t.Fatalf("request %d: %d, want %d", i, c, want)
			}
		}
	})
}

func TestRateLimitCounting(t *testing.T) {
	t.Run("does_not_count_401_and_403", func(t *testing.T) {
		s := limitedServer(t, 1, newFakeClock())
		for range 5 {
			do(t, s, http.MethodGet, "/echo", nil)
			do(t, s, http.MethodGet, "/echo", nil, bearer("wrong"))
			do(t, s, http.MethodGet, "/echo", nil, bearer("tok-b"), ns("not-b"))
		}
		if rec := do(t, s, http.MethodGet, "/echo", nil, bearer("tok-b"), ns("b")); rec.Code != http.StatusOK {
			t.Fatalf("first accepted request: %d", rec.Code)
		}
		assertLimited(t, do(t, s, http.MethodGet, "/echo", nil, bearer("tok-b"), ns("b")), "10")
	})
	t.Run("counts_invalid_requests", func(t *testing.T) {
		s := limitedServer(t, 2, newFakeClock())
		if rec := do(t, s, http.MethodPost, "/invalid", nil, bearer("tok")); rec.Code != http.StatusUnprocessableEntity {
			t.Fatal(rec.Code)
		}
		if rec := do(t, s, http.MethodPost, "/invalid", nil, bearer("tok"), ns("bad/ns")); rec.Code != http.StatusBadRequest {
			t.Fatal(rec.Code)
		}
		assertLimited(t, do(t, s, http.MethodPost, "/invalid", nil, bearer("tok")), "10")
	})
	t.Run("does_not_limit_public_routes", func(t *testing.T) {
		s := limitedServer(t, 1, newFakeClock())
		for range 5 {
			if rec := do(t, s, http.MethodGet, "/healthz", nil); rec.Code != http.StatusOK {
				t.Fatal(rec.Code)
			}
		}
	})
	t.Run("max_0_disables", func(t *testing.T) {
		cfg := testConfig()
		cfg.RateLimit = httpx.RateLimit{Max: 0, Window: time.Second}
		s := newServer(t, cfg, httpx.Deps{})
		for i := range 200 {
			if rec := do(t, s, http.MethodGet, "/echo", nil); rec.Code != http.StatusOK {
				t.Fatalf("request %d: %d", i, rec.Code)
			}
		}
	})
	t.Run("default_limiter_applies_config", func(t *testing.T) {
		cfg := testConfig()
		cfg.RateLimit = httpx.RateLimit{Max: 2, Window: time.Hour}
		s := newServer(t, cfg, httpx.Deps{})
		do(t, s, http.MethodGet, "/echo", nil)
		do(t, s, http.MethodGet, "/echo", nil)
		rec := do(t, s, http.MethodGet, "/echo", nil)
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("third request: %d Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
		}
	})
	t.Run("limiter_error_lets_requests_through", func(t *testing.T) {
		logs := &logBuffer{}
		cfg := testConfig()
		cfg.RateLimit = httpx.RateLimit{Max: 1, Window: time.Second}
		s := newServer(t, cfg, httpx.Deps{Logger: newLogger(logs), RateLimiter: brokenLimiter{}})
		for range 3 {
			if rec := do(t, s, http.MethodGet, "/echo", nil); rec.Code != http.StatusOK {
				t.Fatal(rec.Code)
			}
		}
		if out := logs.String(); !strings.Contains(out, "rate limiter unavailable") || !strings.Contains(out, "redis down") {
			t.Fatalf("limiter failure not logged:\n%s", logs.String())
		}
	})
}

type brokenLimiter struct{}

func (brokenLimiter) Allow(context.Context, string) (httpx.Decision, error) {
	return httpx.Decision{}, errors.New("redis down")
}

func TestMemoryLimiter(t *testing.T) {
	ctx := context.Background()
	limit := httpx.RateLimit{Max: 2, Window: 10 * time.Second}

	t.Run("reports_remaining_and_retry_after", func(t *testing.T) {
		clock := newFakeClock()
		l := httpx.NewMemoryLimiter(limit, httpx.WithClock(clock.Now))
		d1, _ := l.Allow(ctx, "k")
		clock.Advance(3 * time.Second)
		d2, _ := l.Allow(ctx, "k")
		d3, _ := l.Allow(ctx, "k")
		if !d1.Allowed || d1.Remaining != 1 || !d2.Allowed || d2.Remaining != 0 {
			t.Fatalf("d1=%+v d2=%+v", d1, d2)
		}
		if d3.Allowed || d3.RetryAfter != 7*time.Second {
			t.Fatalf("d3=%+v, want refused with RetryAfter 7s", d3)
		}
	})
	t.Run("refused_requests_are_not_recorded", func(t *testing.T) {
		clock := newFakeClock()
		l := httpx.NewMemoryLimiter(limit, httpx.WithClock(clock.Now))
		l.Allow(ctx, "k")
		l.Allow(ctx, "k")
		for range 10 {
			clock.Advance(500 * time.Millisecond)
			l.Allow(ctx, "k")
		}
		clock.Advance(5 * time.Second) // t=10s
		if d, _ := l.Allow(ctx, "k"); !d.Allowed {
			t.Fatalf("refusals kept the client out: %+v", d)
		}
	})
	t.Run("sweeps_idle_keys", func(t *testing.T) {
		clock := newFakeClock()
		l := httpx.NewMemoryLimiter(limit, httpx.WithClock(clock.Now))
		for i := range 100 {
			l.Allow(ctx, fmt.Sprint("client-", i))
		}
		if l.Len() != 100 {
			t.Fatalf("Len = %d", l.Len())
		}
		clock.Advance(limit.Window)
		l.Allow(ctx, "fresh")
		if l.Len() != 1 {
			t.Fatalf("after a window idle keys remain: Len = %d, want 1", l.Len())
		}
	})
	t.Run("bounds_keys", func(t *testing.T) {
		l := httpx.NewMemoryLimiter(limit, httpx.WithClock(newFakeClock().Now), httpx.WithMaxKeys(10))
		for i := range 1000 {
			if d, _ := l.Allow(ctx, fmt.Sprint("client-", i)); !d.Allowed {
				t.Fatalf("new client %d refused", i)
			}
		}
		if l.Len() > 10 {
			t.Fatalf("Len = %d, want <= 10", l.Len())
		}
	})
	t.Run("disabled_allows_everything", func(t *testing.T) {
		l := httpx.NewMemoryLimiter(httpx.RateLimit{})
		for range 100 {
			if d, _ := l.Allow(ctx, "k"); !d.Allowed {
				t.Fatal("refused")
			}
		}
	})
}
