package idempotency

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Memory is a bounded in-process Store: the least recently used keys are
// forgotten beyond its capacity, and every key expires after its TTL. It
// protects against retries to the same process only.
type Memory struct {
	mu       sync.Mutex
	capacity int
	now      func() time.Time
	order    *list.List // front = most recent; values are keys
	entries  map[string]*memEntry
}

type memEntry struct {
	rec     record
	expires time.Time
	elem    *list.Element
}

// NewMemory returns a store of at most capacity keys (default 100000).
func NewMemory(capacity int, now func() time.Time) *Memory {
	if capacity <= 0 {
		capacity = 100000
	}
	if now == nil {
		now = time.Now
	}
	return &Memory{capacity: capacity, now: now, order: list.New(), entries: map[string]*memEntry{}}
}

var _ Store = (*Memory)(nil)

// Begin implements Store.
func (m *Memory) Begin(_ context.Context, key, fp string, _ time.Duration) (Outcome, *Response, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if e, ok := m.entries[key]; ok && now.Before(e.expires) {
		m.order.MoveToFront(e.elem)
		switch {
		case e.rec.Fingerprint != fp:
			return Mismatch, nil, nil
		case !e.rec.Done:
			return InProgress, nil, nil
		default:
			r := *e.rec.Response
			return Replay, &r, nil
		}
	}
	m.put(key, record{Fingerprint: fp}, now.Add(pendingTTL))
	return Proceed, nil, nil
}

// Complete implements Store.
func (m *Memory) Complete(_ context.Context, key, fp string, resp Response, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.put(key, record{Fingerprint: fp, Done: true, Response: &resp}, m.now().Add(ttl))
	return nil
}

// Release implements Store.
func (m *Memory) Release(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; ok && !e.rec.Done {
		m.order.Remove(e.elem)
		delete(m.entries, key)
	}
	return nil
}

func (m *Memory) put(key string, rec record, expires time.Time) {
	if e, ok := m.entries[key]; ok {
		e.rec, e.expires = rec, expires
		m.order.MoveToFront(e.elem)
		return
	}
	m.entries[key] = &memEntry{rec: rec, expires: expires, elem: m.order.PushFront(key)}
	for m.order.Len() > m.capacity {
		oldest := m.order.Back()
		m.order.Remove(oldest)
		delete(m.entries, oldest.Value.(string))
	}
}
