package domain

import (
	"errors"
	"fmt"
	"strings"
)

// ErrMemoryNotFound is returned when a command needs an existing memory and
// there is none at the coordinate (e.g. linking from it). The domain does
// not read state: the write side's existence check returns it, and the
// HTTP layer maps it to 404.
var ErrMemoryNotFound = errors.New("memory not found")

// ErrInvalidNamespace is wrapped by namespace validation errors.
var ErrInvalidNamespace = errors.New("invalid namespace")

// MaxNamespaceLen is the longest namespace accepted, in bytes.
const MaxNamespaceLen = 128

// ValidationError is one rejected field of a command. The HTTP layer maps
// it to a 422 field error.
type ValidationError struct {
	// Field is the request field name as on the wire ("payload", "weight").
	Field string
	// Message says what is wrong, for humans.
	Message string
	// Err is an optional classified cause (ErrInvalidWeight, …), reachable
	// with errors.Is.
	Err error
}

func (e ValidationError) Error() string { return e.Field + ": " + e.Message }

// Unwrap returns the classified cause, if any.
func (e ValidationError) Unwrap() error { return e.Err }

// ValidationErrors lists every rejected field of one command, in field
// order. Decide functions return it as a value, never empty:
//
//	var ve domain.ValidationErrors
//	if errors.As(err, &ve) { ... 422 ... }
//
// errors.Is also sees each field's cause (e.g. ErrInvalidWeight).
type ValidationErrors []ValidationError

func (es ValidationErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return "validation failed: " + strings.Join(msgs, "; ")
}

// Unwrap returns the individual field errors.
func (es ValidationErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// add records a failure of field.
func (es *ValidationErrors) add(field, msg string, cause error) {
	*es = append(*es, ValidationError{Field: field, Message: msg, Err: cause})
}

// err returns es as an error, or nil (untyped) when it is empty.
func (es ValidationErrors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// ValidateNamespace accepts 1–128 characters of [A-Za-z0-9._:-]; any other
// input is an error wrapping ErrInvalidNamespace. Namespaces appear in
// partition keys, Redis keys and point ids, so the alphabet is deliberately
// narrow.
func ValidateNamespace(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrInvalidNamespace)
	}
	if len(s) > MaxNamespaceLen {
		return fmt.Errorf("%w: longer than %d characters", ErrInvalidNamespace, MaxNamespaceLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return fmt.Errorf("%w %q: only letters, digits and . _ : - are allowed", ErrInvalidNamespace, s)
		}
	}
	return nil
}

// ValidateMeta checks the fields every event needs: a non-empty event id, a
// valid namespace and a set occurred_at. It returns ValidationErrors
// (fields "event_id", "namespace", "occurred_at") or nil.
func ValidateMeta(m EventMeta) error {
	var errs ValidationErrors
	m.validate(&errs)
	return errs.err()
}

func (m EventMeta) validate(errs *ValidationErrors) {
	if strings.TrimSpace(m.EventID) == "" {
		errs.add("event_id", "must not be empty", nil)
	}
	if err := ValidateNamespace(m.Namespace); err != nil {
		errs.add("namespace", err.Error(), ErrInvalidNamespace)
	}
	if m.OccurredAt.IsZero() {
		errs.add("occurred_at", "must be set", nil)
	}
}
