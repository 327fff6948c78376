// Package idempotency remembers the answers of commands sent with an
// Idempotency-Key, so a retried command is not published twice.
//
// A key is first reserved (Begin). The first request runs and stores its
// response (Complete), or releases the key when it failed in a way the
// client may retry (Release). A retry with the same key and the same
// request gets the stored response; with a different request it is refused;
// while the first is still running it is told to retry later.
package idempotency

import (
	"context"
	"errors"
	"time"
)

// Response is what is replayed to a retried request.
type Response struct {
	Status int               `json:"status"`
	Header map[string]string `json:"header,omitempty"`
	Body   []byte            `json:"body"`
}

// Outcome of Begin.
type Outcome int

const (
	// Proceed: the key was free and is now reserved by this request.
	Proceed Outcome = iota
	// Replay: the key holds a completed response for the same request.
	Replay
	// InProgress: another request with this key is still running.
	InProgress
	// Mismatch: the key was used for a different request.
	Mismatch
)

// Store keeps reservations and responses. Keys are already scoped by the
// caller (namespace, route, client key).
type Store interface {
	// Begin reserves key for a request whose body hashes to fingerprint.
	// On Replay it also returns the stored response.
	Begin(ctx context.Context, key, fingerprint string, ttl time.Duration) (Outcome, *Response, error)
	// Complete stores the response of the reserving request.
	Complete(ctx context.Context, key, fingerprint string, resp Response, ttl time.Duration) error
	// Release frees a reservation whose request did not complete.
	Release(ctx context.Context, key string) error
}

// ErrUnavailable wraps failures of the backing store.
var ErrUnavailable = errors.New("idempotency store unavailable")

// pendingTTL bounds how long a crashed request can hold a key.
const pendingTTL = 2 * time.Minute

type record struct {
	Fingerprint string    `json:"f"`
	Done        bool      `json:"d"`
	Response    *Response `json:"r,omitempty"`
}
