package soma

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/queries"
)

func TestClassifyQuery(t *testing.T) {
	live := context.Background()
	expired, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-expired.Done()
	inner := fmt.Errorf("wait for read models: %w", context.DeadlineExceeded)
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want []error
		not  []error
	}{
		{"an_inner_deadline_with_a_live_caller_is_unavailable", live, inner, []error{ErrUnavailable, context.DeadlineExceeded}, []error{ErrConsistencyLag}},
		{"the_callers_own_deadline_stays_a_deadline", expired, inner, []error{context.DeadlineExceeded}, []error{ErrUnavailable}},
		{"a_lag_is_unavailable_and_a_consistency_lag", live, &queries.LagError{Source: "event_log", Timeout: time.Second}, []error{ErrUnavailable, ErrConsistencyLag}, nil},
		{"a_missing_memory_is_not_found", live, domain.ErrMemoryNotFound, []error{ErrNotFound}, []error{ErrUnavailable}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := classifyQuery(tc.ctx, tc.err)
			for _, w := range tc.want {
				if !errors.Is(got, w) {
					t.Errorf("%v does not match %v", got, w)
				}
			}
			for _, n := range tc.not {
				if errors.Is(got, n) {
					t.Errorf("%v matches %v", got, n)
				}
			}
			if got.Error() != tc.err.Error() {
				t.Errorf("text %q, want %q", got, tc.err)
			}
		})
	}
	t.Run("commands_keep_a_deadline_unclassified", func(t *testing.T) {
		if errors.Is(classify(inner), ErrUnavailable) {
			t.Fatal("classified")
		}
	})
}
