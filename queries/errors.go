package queries

import (
	"errors"
	"fmt"

	"github.com/somafractalmemory/soma/domain"
)

// Classified errors of the queries; queries/httpapi maps them to HTTP
// statuses. Adapters wrap ErrUnavailable when their service cannot be
// reached or times out.
var (
	// ErrUnavailable: a read model or the embedder did not answer in time
	// (503 with Retry-After).
	ErrUnavailable = errors.New("service unavailable")
	// ErrNotConfigured: the process has no read model for this query
	// (501).
	ErrNotConfigured = errors.New("query not configured")
	// ErrSearchLimit: shortest_path expanded its node limit without
	// reaching the target (422).
	ErrSearchLimit = errors.New("path search limit exceeded")
)

// invalid builds a one-field validation error; the field is the request
// field name ("top_k", "filters.team").
func invalid(field, msg string, cause error) error {
	return domain.ValidationErrors{{Field: field, Message: msg, Err: cause}}
}

func notConfigured(what string) error {
	return fmt.Errorf("%w: no %s configured", ErrNotConfigured, what)
}
