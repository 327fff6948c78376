package soma

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinel errors. Every error of a Memory implementation that has one of
// these meanings matches it with errors.Is; the HTTP client maps statuses
// to them (see APIError).
var (
	// ErrInvalid: the request was malformed (HTTP 400, 413, 422): a bad
	// coordinate, a missing field, a top_k out of range, an NDJSON line
	// that is not a record.
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound: the memory does not exist (HTTP 404).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request conflicts with the service's state (HTTP
	// 409), e.g. an Idempotency-Key still in progress or an index built by
	// another embedding model.
	ErrConflict = errors.New("conflict")
	// ErrUnauthorized: missing, wrong or out-of-scope token (HTTP 401, 403).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrRateLimited: too many requests (HTTP 429); retry after
	// APIError.RetryAfter.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnavailable: a dependency is down or read models lag behind the
	// consistency token (HTTP 503); retry after APIError.RetryAfter.
	ErrUnavailable = errors.New("service unavailable")
	// ErrConsistencyLag: a read waited for a consistency token and the
	// read models did not apply it in time (HTTP 503 whose body names the
	// "lagging" read models). It also matches ErrUnavailable. A token
	// from an earlier session may be ahead of a service since reset;
	// retrying later, or without the token, is the caller's choice.
	ErrConsistencyLag = errors.New("read models lag behind the consistency token")
)

// APIError is a non-2xx answer of the service.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Detail is the decoded "detail" of the JSON body (a string, or the
	// list of field errors of a 422), or the raw body text when it was not
	// JSON.
	Detail any
	// RetryAfter is the Retry-After header of 429 and 503 answers.
	RetryAfter time.Duration
	// Lagging is the raw "lagging" list of a 503 answering a consistency
	// token the read models did not apply in time (one entry per read
	// model partition still behind); nil for any other answer.
	Lagging json.RawMessage
}

// Error renders the status and the detail: "422 Unprocessable Entity:
// body.top_k: must be 1..1000".
func (e *APIError) Error() string {
	msg := detailText(e.Detail)
	status := fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	if msg == "" {
		return status
	}
	return status + ": " + msg
}

// Is matches the sentinel of the status, and ErrConsistencyLag for a 503
// naming lagging read models.
func (e *APIError) Is(target error) bool {
	if target == ErrConsistencyLag {
		return e.Status == http.StatusServiceUnavailable && e.Lagging != nil
	}
	s := sentinelOf(e.Status)
	return s != nil && s == target
}

func sentinelOf(status int) error {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge:
		return ErrInvalid
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		return ErrConflict
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrUnauthorized
	case http.StatusTooManyRequests:
		return ErrRateLimited
	case http.StatusServiceUnavailable:
		return ErrUnavailable
	}
	return nil
}

// detailText renders a detail: strings as they are, FastAPI field errors
// as "loc.path: msg" joined by "; ", anything else as JSON.
func detailText(d any) string {
	switch v := d.(type) {
	case nil:
		return ""
	case string:
		return v
	case []any:
		parts := make([]string, 0, len(v))
		for _, item := range v {
			fe, ok := item.(map[string]any)
			if !ok {
				parts = append(parts, detailText(item))
				continue
			}
			var loc []string
			if l, ok := fe["loc"].([]any); ok {
				for _, p := range l {
					loc = append(loc, fmt.Sprint(p))
				}
			}
			msg, _ := fe["msg"].(string)
			if len(loc) > 0 {
				msg = strings.Join(loc, ".") + ": " + msg
			}
			parts = append(parts, msg)
		}
		return strings.Join(parts, "; ")
	}
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Sprint(d)
	}
	return string(b)
}

// invalidError marks a local validation error as ErrInvalid while keeping
// its own message.
type invalidError struct{ err error }

func invalid(err error) error { return &invalidError{err} }

func (e *invalidError) Error() string { return e.err.Error() }

func (e *invalidError) Unwrap() []error { return []error{e.err, ErrInvalid} }
