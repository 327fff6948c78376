package httpx_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/somafractalmemory/soma/internal/httpx"
)

func TestConfigValidate(t *testing.T) {
	t.Run("defaults_are_valid", func(t *testing.T) {
		cfg := httpx.DefaultConfig()
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		if cfg.RateLimit != (httpx.RateLimit{Max: 60, Window: time.Minute}) || cfg.MaxBodyBytes != 8<<20 || cfg.DefaultNamespace != "default" {
			t.Fatalf("defaults changed: %+v", cfg)
		}
	})
	t.Run("rate_limit_0_needs_no_window", func(t *testing.T) {
		cfg := httpx.DefaultConfig()
		cfg.RateLimit = httpx.RateLimit{}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("reports_every_problem_and_never_a_token", func(t *testing.T) {
		const secret = "very-secret-token"
		cfg := httpx.DefaultConfig()
		cfg.DefaultNamespace = "bad ns"
		cfg.RateLimit = httpx.RateLimit{Max: 5}
		cfg.MaxBodyBytes = 0
		cfg.RouteMaxBodyBytes = map[string]int64{"import": -1}
		cfg.ReadyTimeout = 0
		cfg.APIToken = secret
		cfg.ScopedTokens = []httpx.ScopedToken{
			{Label: "", Token: "x", Namespaces: []string{"a"}},
			{Label: "dup", Token: secret, Namespaces: []string{"a"}},
			{Label: "dup", Token: "y z", Namespaces: nil},
			{Label: "anonymous", Token: "w", Namespaces: []string{"a/b"}},
		}
		err := cfg.Validate()
		if err == nil {
			t.Fatal("invalid config accepted")
		}
		msg := err.Error()
		for _, want := range []string{
			"default namespace", "rate limit window", "max body bytes", `route "import"`, "route body limit for import",
			"ready timeout", "label is required", "same token as another entry", `"dup": label is reserved or used twice`,
			"token must not contain spaces", "no namespaces", `"anonymous": label is reserved`, "invalid character",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("error lacks %q:\n%s", want, msg)
			}
		}
		if strings.Contains(msg, secret) {
			t.Fatalf("error reveals a token:\n%s", msg)
		}
	})
}

func TestParseScopedTokens(t *testing.T) {
	got, err := httpx.ParseScopedTokens("agent-a=tok=A@b@tenant-a, shared ; ops=tok2@*\n\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []httpx.ScopedToken{
		{Label: "agent-a", Token: "tok=A@b", Namespaces: []string{"tenant-a", "shared"}},
		{Label: "ops", Token: "tok2", Namespaces: []string{"*"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	_, err = httpx.ParseScopedTokens("no-separator-secret")
	if err == nil || strings.Contains(err.Error(), "no-separator-secret") {
		t.Fatalf("bad entry: err %v (must not echo the entry)", err)
	}
	if got, err := httpx.ParseScopedTokens(""); err != nil || got != nil {
		t.Fatalf("empty: %v %v", got, err)
	}
}

func TestValidateNamespace(t *testing.T) {
	for _, ok := range []string{"default", "a", "A.b_c:d-e", strings.Repeat("x", 128)} {
		if err := httpx.ValidateNamespace(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", " ", "a/b", "a b", "é", strings.Repeat("x", 129), "a\x00"} {
		if err := httpx.ValidateNamespace(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
