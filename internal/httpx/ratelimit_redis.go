package httpx

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisRateLimitKeyPrefix prefixes every rate-limit key in Redis
// ("soma:ratelimit:<route>|<client>"). Renaming it resets every window.
const RedisRateLimitKeyPrefix = "soma:ratelimit:"

// slidingWindowScript keeps, per key, a sorted set of the allowed requests
// (score = time in ms) and admits one more when fewer than max are newer
// than now-window. It runs atomically, so replicas sharing the Redis share
// the limit.
//
// KEYS[1] the key; ARGV[1] now in ms, or "" for the Redis server clock;
// ARGV[2] window in ms; ARGV[3] max; ARGV[4] a unique member.
// Returns {allowed 0|1, remaining, retry-after ms}.
const slidingWindowScript = `
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local window = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local cutoff = now - window
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
local count = redis.call('ZCARD', KEYS[1])
if count < max then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, max - count - 1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, 0, tonumber(oldest[2]) - cutoff}
`

// RedisLimiter is a sliding-window log in Redis, shared by every replica
// using the same Redis. Keys expire one window after their last allowed
// request, so idle clients cost nothing.
type RedisLimiter struct {
	client redis.Scripter
	limit  RateLimit
	now    func() time.Time // nil: Redis server clock
	script *redis.Script
}

var _ RateLimiter = (*RedisLimiter)(nil)

// NewRedisLimiter returns a limiter over client (a *redis.Client,
// *redis.ClusterClient or redis.UniversalClient) for a valid limit; a
// disabled limit allows everything without calling Redis. Only WithClock
// applies.
func NewRedisLimiter(client redis.Scripter, limit RateLimit, opts ...LimiterOption) *RedisLimiter {
	var o limiterOptions
	for _, opt := range opts {
		opt(&o)
	}
	return &RedisLimiter{
		client: client,
		limit:  limit,
		now:    o.now,
		script: redis.NewScript(slidingWindowScript),
	}
}

// Allow records a request under key if fewer than Max were allowed in the
// last Window, across every replica.
func (r *RedisLimiter) Allow(ctx context.Context, key string) (Decision, error) {
	if !r.limit.Enabled() {
		return Decision{Allowed: true}, nil
	}
	now := ""
	if r.now != nil {
		now = strconv.FormatInt(r.now().UnixMilli(), 10)
	}
	member := strconv.FormatUint(rand.Uint64(), 36) + "." + strconv.FormatInt(time.Now().UnixNano(), 36) // #nosec G404 -- only needs to be unique within the window; not a secret
	res, err := r.script.Run(ctx, r.client,
		[]string{RedisRateLimitKeyPrefix + key},
		now, r.limit.Window.Milliseconds(), r.limit.Max, member,
	).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit %s: %w", key, err)
	}
	if len(res) != 3 {
		return Decision{}, fmt.Errorf("rate limit %s: script returned %d values, want 3", key, len(res))
	}
	return Decision{
		Allowed:    res[0] == 1,
		Remaining:  int(res[1]),
		RetryAfter: time.Duration(res[2]) * time.Millisecond,
	}, nil
}
