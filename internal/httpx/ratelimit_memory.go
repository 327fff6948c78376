package httpx

import (
	"context"
	"sync"
	"time"
)

// DefaultLimiterMaxKeys bounds the keys of an in-process limiter.
const DefaultLimiterMaxKeys = 100_000

// MemoryLimiter is an in-process sliding-window log: for each key, the
// times of the allowed requests still inside the window (at most Max).
//
// Memory is bounded: keys idle for a whole window are swept once per
// window, and when MaxKeys keys are live a new key evicts an arbitrary one
// (that client's window restarts). Limits are per process; use
// RedisLimiter to share them across replicas.
type MemoryLimiter struct {
	limit   RateLimit
	now     func() time.Time
	maxKeys int

	mu        sync.Mutex
	keys      map[string]*slidingLog
	lastSweep time.Time
}

// slidingLog holds the times of allowed requests, oldest first; it never
// holds more than Max entries and grows only as a client uses it.
type slidingLog struct {
	times []time.Time
}

var _ RateLimiter = (*MemoryLimiter)(nil)

// NewMemoryLimiter returns an in-process limiter for a valid limit (see
// RateLimit.Validate); a disabled limit allows everything.
func NewMemoryLimiter(limit RateLimit, opts ...LimiterOption) *MemoryLimiter {
	o := limiterOptions{now: time.Now, maxKeys: DefaultLimiterMaxKeys}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxKeys < 1 {
		o.maxKeys = 1
	}
	return &MemoryLimiter{
		limit:   limit,
		now:     o.now,
		maxKeys: o.maxKeys,
		keys:    map[string]*slidingLog{},
	}
}

// Allow records a request under key if fewer than Max were allowed in the
// last Window. It never fails.
func (m *MemoryLimiter) Allow(_ context.Context, key string) (Decision, error) {
	if !m.limit.Enabled() {
		return Decision{Allowed: true}, nil
	}
	now := m.now()
	cutoff := now.Add(-m.limit.Window)

	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Sub(m.lastSweep) >= m.limit.Window {
		m.sweep(cutoff)
		m.lastSweep = now
	}
	log, ok := m.keys[key]
	if !ok {
		if len(m.keys) >= m.maxKeys {
			m.sweep(cutoff)
		}
		for k := range m.keys {
			if len(m.keys) < m.maxKeys {
				break
			}
			delete(m.keys, k)
		}
		log = &slidingLog{}
		m.keys[key] = log
	}
	log.expire(cutoff)
	if len(log.times) >= m.limit.Max {
		return Decision{RetryAfter: log.oldest().Sub(cutoff)}, nil
	}
	log.push(now)
	return Decision{Allowed: true, Remaining: m.limit.Max - len(log.times)}, nil
}

// Len returns the number of keys remembered (tests, metrics).
func (m *MemoryLimiter) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}

// sweep drops every key whose newest request left the window.
func (m *MemoryLimiter) sweep(cutoff time.Time) {
	for k, l := range m.keys {
		if len(l.times) == 0 || !l.newest().After(cutoff) {
			delete(m.keys, k)
		}
	}
}

// expire drops the requests at or before cutoff: a request made at t
// occupies its slot until t+Window.
func (l *slidingLog) expire(cutoff time.Time) {
	i := 0
	for i < len(l.times) && !l.times[i].After(cutoff) {
		i++
	}
	if i == len(l.times) {
		l.times = l.times[:0]
		return
	}
	l.times = l.times[i:]
}

func (l *slidingLog) push(t time.Time) { l.times = append(l.times, t) }

func (l *slidingLog) oldest() time.Time { return l.times[0] }

func (l *slidingLog) newest() time.Time { return l.times[len(l.times)-1] }
