package domain

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestValidateNamespace(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"accepts_default", "default", true},
		{"accepts_full_alphabet", "Team-1.prod_eu:agents", true},
		{"accepts_max_length", strings.Repeat("a", MaxNamespaceLen), true},
		{"rejects_empty", "", false},
		{"rejects_too_long", strings.Repeat("a", MaxNamespaceLen+1), false},
		{"rejects_space", "my ns", false},
		{"rejects_slash", "a/b", false},
		{"rejects_nul", "a\x00b", false},
		{"rejects_non_ascii", "café", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateNamespace(tt.in)
			if tt.ok != (err == nil) {
				t.Fatalf("ValidateNamespace(%q) = %v", tt.in, err)
			}
			if err != nil && !errors.Is(err, ErrInvalidNamespace) {
				t.Fatalf("error %v does not wrap ErrInvalidNamespace", err)
			}
		})
	}
}

func TestValidateMeta(t *testing.T) {
	t.Run("accepts_complete_meta", func(t *testing.T) {
		if err := ValidateMeta(testMeta()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("reports_every_missing_field", func(t *testing.T) {
		err := ValidateMeta(EventMeta{Namespace: "bad ns"})
		var ve ValidationErrors
		if !errors.As(err, &ve) {
			t.Fatalf("err %v is not ValidationErrors", err)
		}
		if got := fields(ve); got != "event_id,namespace,occurred_at" {
			t.Fatalf("fields %s", got)
		}
		if !errors.Is(err, ErrInvalidNamespace) {
			t.Fatal("namespace cause not reachable with errors.Is")
		}
	})
	t.Run("validation_errors_survive_wrapping", func(t *testing.T) {
		err := fmt.Errorf("store: %w", ValidateMeta(EventMeta{}))
		var ve ValidationErrors
		var one ValidationError
		if !errors.As(err, &ve) || !errors.As(err, &one) || one.Field != "event_id" {
			t.Fatalf("errors.As failed on %v", err)
		}
		if !strings.Contains(err.Error(), "event_id: must not be empty") {
			t.Fatalf("message %q", err)
		}
	})
}

func testMeta() EventMeta {
	return EventMeta{
		EventID:    "0190a7e2-0000-7000-8000-000000000001",
		Namespace:  "default",
		OccurredAt: time.Date(2025, 3, 1, 12, 0, 0, 250_000_000, time.UTC),
		Actor:      "anonymous",
	}
}

func fields(ve ValidationErrors) string {
	out := make([]string, len(ve))
	for i, e := range ve {
		out[i] = e.Field
	}
	return strings.Join(out, ",")
}
