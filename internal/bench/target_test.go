package bench

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTargetValidate(t *testing.T) {
	tests := []struct {
		name    string
		target  Target
		remote  bool   // wants ErrRemoteTarget
		problem string // other expected error text; "" = valid
	}{
		{name: "accepts_defaults_with_a_namespace", target: Target{Namespace: "bench-1-2"}},
		{name: "accepts_localhost", target: Target{URL: "http://localhost:9595", Namespace: "n"}},
		{name: "accepts_ipv6_loopback", target: Target{URL: "http://[::1]:9595", Namespace: "n"}},
		{name: "accepts_any_127_address", target: Target{URL: "https://127.0.0.2", Namespace: "n"}},
		{name: "refuses_remote_url", target: Target{URL: "http://10.0.0.5:9595", Namespace: "n"}, remote: true},
		{name: "refuses_remote_query_url", target: Target{QueryURL: "http://soma.example.com", Namespace: "n"}, remote: true},
		{name: "allows_remote_when_asked", target: Target{URL: "http://soma.example.com", AllowRemote: true, Namespace: "n"}},
		{name: "rejects_other_schemes", target: Target{URL: "ftp://127.0.0.1", Namespace: "n"}, problem: "scheme"},
		{name: "rejects_missing_namespace", target: Target{}, problem: "namespace"},
		{name: "rejects_bad_namespace", target: Target{Namespace: "a b"}, problem: "namespace"},
		{name: "rejects_negative_timeout", target: Target{Namespace: "n", Timeout: -time.Second}, problem: "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.target.Validate()
			switch {
			case tc.remote:
				if !errors.Is(err, ErrRemoteTarget) {
					t.Fatalf("err = %v, want ErrRemoteTarget", err)
				}
			case tc.problem != "":
				if err == nil || !strings.Contains(err.Error(), tc.problem) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.problem)
				}
			case err != nil:
				t.Fatalf("unexpected error: %v", err)
			}
		})
	}

	t.Run("reports_every_problem_at_once", func(t *testing.T) {
		err := IngestConfig{Target: Target{URL: "http://10.1.1.1"}, N: -1, Batch: MaxBatch + 1}.Validate()
		for _, want := range []string{"loopback", "namespace", "n must", "batch must"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want it to mention %q", err, want)
			}
		}
	})

	t.Run("default_namespace_is_valid_and_names_the_seed", func(t *testing.T) {
		ns := DefaultNamespace(42, time.UnixMilli(1700000000123))
		if ns != "bench-42-1700000000123" {
			t.Fatalf("ns = %q", ns)
		}
		if err := (Target{Namespace: ns}).Validate(); err != nil {
			t.Fatal(err)
		}
	})
}
