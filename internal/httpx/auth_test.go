package httpx_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/somafractalmemory/soma/internal/httpx"
)

func TestAuthAndNamespaces(t *testing.T) {
	const (
		apiToken = "api-secret"
		tokA     = "token-for-a"
		tokAll   = "token-for-all"
	)
	cfg := testConfig()
	cfg.APIToken = apiToken
	cfg.DefaultNamespace = "main"
	cfg.ScopedTokens = []httpx.ScopedToken{
		{Label: "agent-a", Token: tokA, Namespaces: []string{"tenant-a", "shared"}},
		{Label: "ops", Token: tokAll, Namespaces: []string{httpx.AllNamespaces}},
	}
	s := newServer(t, cfg, httpx.Deps{})

	tests := []struct {
		name    string
		headers []header
		status  int
		body    string
	}{
		{"rejects_missing_header", nil, 401, `{"detail":"Missing bearer token"}`},
		{"rejects_basic_scheme", []header{{"Authorization", "Basic YTpi"}}, 401, `{"detail":"Missing bearer token"}`},
		{"rejects_lowercase_bearer", []header{{"Authorization", "bearer " + apiToken}}, 401, `{"detail":"Missing bearer token"}`},
		{"rejects_bare_token", []header{{"Authorization", apiToken}}, 401, `{"detail":"Missing bearer token"}`},
		{"rejects_wrong_token", []header{bearer("nope")}, 403, `{"detail":"Invalid token"}`},
		{"rejects_empty_token", []header{{"Authorization", "Bearer "}}, 403, `{"detail":"Invalid token"}`},
		{"rejects_token_prefix", []header{bearer(apiToken[:5])}, 403, `{"detail":"Invalid token"}`},
		{"accepts_api_token_on_default_namespace", []header{bearer(apiToken)}, 200, `{"namespace":"main","actor":"api-token"}`},
		{"accepts_api_token_on_any_namespace", []header{bearer(apiToken), ns("tenant-b")}, 200, `{"namespace":"tenant-b","actor":"api-token"}`},
		{"accepts_scoped_token_on_its_namespace", []header{bearer(tokA), ns("tenant-a")}, 200, `{"namespace":"tenant-a","actor":"agent-a"}`},
		{"accepts_scoped_token_on_its_second_namespace", []header{bearer(tokA), ns("shared")}, 200, `{"namespace":"shared","actor":"agent-a"}`},
		{"isolates_scoped_token_from_other_namespace", []header{bearer(tokA), ns("tenant-b")}, 403, `{"detail":"Token not allowed for namespace"}`},
		{"isolates_scoped_token_from_default_namespace", []header{bearer(tokA)}, 403, `{"detail":"Token not allowed for namespace"}`},
		{"accepts_star_scoped_token_anywhere", []header{bearer(tokAll), ns("x.y_z:1-2")}, 200, `{"namespace":"x.y_z:1-2","actor":"ops"}`},
		{"rejects_namespace_with_slash", []header{bearer(apiToken), ns("a/b")}, 400, ""},
		{"rejects_namespace_with_space", []header{bearer(apiToken), ns("a b")}, 400, ""},
		{"rejects_overlong_namespace", []header{bearer(apiToken), ns(strings.Repeat("n", 129))}, 400, ""},
		{"auth_comes_before_namespace_validation", []header{ns("a/b")}, 401, `{"detail":"Missing bearer token"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, s, http.MethodGet, "/echo", nil, tt.headers...)
			if tt.body == "" {
				if rec.Code != tt.status || !strings.Contains(rec.Body.String(), `"detail":"Invalid X-Soma-Namespace header: `) {
					t.Fatalf("got %d %s, want %d with a namespace detail", rec.Code, rec.Body.String(), tt.status)
				}
				return
			}
			assertJSON(t, rec, tt.status, tt.body)
			if tt.status == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") != "Bearer" {
				t.Fatalf("401 without WWW-Authenticate: Bearer")
			}
		})
	}
}

func TestNoTokenConfigured(t *testing.T) {
	s := newServer(t, testConfig(), httpx.Deps{})
	t.Run("is_anonymous_on_default_namespace", func(t *testing.T) {
		assertJSON(t, do(t, s, http.MethodGet, "/echo", nil), http.StatusOK, `{"namespace":"default","actor":"anonymous"}`)
	})
	t.Run("ignores_any_authorization_header", func(t *testing.T) {
		assertJSON(t, do(t, s, http.MethodGet, "/echo", nil, bearer("whatever"), ns("t1")), http.StatusOK,
			`{"namespace":"t1","actor":"anonymous"}`)
	})
	t.Run("still_validates_the_namespace", func(t *testing.T) {
		if rec := do(t, s, http.MethodGet, "/echo", nil, ns("bad namespace")); rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", rec.Code)
		}
	})
}

func TestOnlyScopedTokensEnableAuth(t *testing.T) {
	cfg := testConfig()
	cfg.ScopedTokens = []httpx.ScopedToken{{Label: "a", Token: "tok-a", Namespaces: []string{"default"}}}
	s := newServer(t, cfg, httpx.Deps{})
	assertJSON(t, do(t, s, http.MethodGet, "/echo", nil), http.StatusUnauthorized, `{"detail":"Missing bearer token"}`)
	assertJSON(t, do(t, s, http.MethodGet, "/echo", nil, bearer("tok-a")), http.StatusOK, `{"namespace":"default","actor":"a"}`)
}
