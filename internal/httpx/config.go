package httpx

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults applied by DefaultConfig.
const (
	DefaultNamespace       = "default"
	DefaultRateLimitMax    = 60
	DefaultRateLimitWindow = 60 * time.Second
	DefaultMaxBodyBytes    = 8 << 20 // 8 MiB
	DefaultReadyTimeout    = 2 * time.Second
	DefaultReadyRetryAfter = 5 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	// BulkMaxBodyBytes is the suggested limit for bulk and import routes
	// (Config.RouteMaxBodyBytes).
	BulkMaxBodyBytes = 64 << 20 // 64 MiB

	// APITokenLabel is the actor label of Config.APIToken.
	APITokenLabel = "api-token"
	// AnonymousActor is the actor of requests when no token is configured.
	AnonymousActor = "anonymous"
	// AllNamespaces in ScopedToken.Namespaces lets a token use every namespace.
	AllNamespaces = "*"
)

// Config of an API engine. Start from DefaultConfig and override; Validate
// reports every problem at once. Zero values are not defaults: a zero
// RateLimit.Max disables rate limiting, a zero MaxBodyBytes is invalid.
type Config struct {
	// ServiceName and Version appear in health bodies, logs and /docs.
	ServiceName string
	Version     string

	// APIToken, when set, is accepted for every namespace with actor label
	// APITokenLabel.
	APIToken string
	// ScopedTokens are further tokens, each limited to some namespaces.
	ScopedTokens []ScopedToken
	// DefaultNamespace is used when a request has no X-Soma-Namespace header.
	DefaultNamespace string

	// RateLimit applies per route and client to every API route.
	RateLimit RateLimit

	// MaxBodyBytes limits request bodies of API routes.
	MaxBodyBytes int64
	// RouteMaxBodyBytes overrides MaxBodyBytes per route template
	// (the path as registered, e.g. "/import").
	RouteMaxBodyBytes map[string]int64

	// TrustedProxies are the CIDRs or IPs whose X-Forwarded-For is believed
	// when finding the client IP (rate limit key of unauthenticated
	// clients). Empty: the connection's remote address is used.
	TrustedProxies []string

	// ReadyTimeout bounds all readiness checks of one /readyz request.
	ReadyTimeout time.Duration
	// ReadyRetryAfter is sent as Retry-After when /readyz answers 503.
	ReadyRetryAfter time.Duration
	// ShutdownTimeout bounds the graceful shutdown of Server.Run.
	ShutdownTimeout time.Duration
}

// ScopedToken is a bearer token limited to some namespaces.
type ScopedToken struct {
	// Label identifies the caller in logs, events (actor) and rate-limit
	// keys. It is never the token. Required, unique.
	Label string
	// Token is the secret sent as "Authorization: Bearer <Token>".
	Token string
	// Namespaces the token may use; AllNamespaces ("*") means all.
	Namespaces []string
}

// RateLimit is a sliding window: at most Max requests per Window for each
// route and client. Max 0 disables the limit.
type RateLimit struct {
	Max    int
	Window time.Duration
}

// Enabled reports whether the limit applies.
func (r RateLimit) Enabled() bool { return r.Max > 0 }

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		ServiceName:      "soma",
		Version:          "dev",
		DefaultNamespace: DefaultNamespace,
		RateLimit:        RateLimit{Max: DefaultRateLimitMax, Window: DefaultRateLimitWindow},
		MaxBodyBytes:     DefaultMaxBodyBytes,
		ReadyTimeout:     DefaultReadyTimeout,
		ReadyRetryAfter:  DefaultReadyRetryAfter,
		ShutdownTimeout:  DefaultShutdownTimeout,
	}
}

// Validate reports every invalid field, joined.
func (c Config) Validate() error {
	var errs []error
	if err := ValidateNamespace(c.DefaultNamespace); err != nil {
		errs = append(errs, fmt.Errorf("default namespace: %w", err))
	}
	if err := c.RateLimit.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, fmt.Errorf("max body bytes must be > 0, got %d", c.MaxBodyBytes))
	}
	for route, n := range c.RouteMaxBodyBytes {
		if !strings.HasPrefix(route, "/") {
			errs = append(errs, fmt.Errorf("route body limit: route %q must start with /", route))
		}
		if n <= 0 {
			errs = append(errs, fmt.Errorf("route body limit for %s must be > 0, got %d", route, n))
		}
	}
	if c.ReadyTimeout <= 0 {
		errs = append(errs, fmt.Errorf("ready timeout must be > 0, got %s", c.ReadyTimeout))
	}
	if c.ReadyRetryAfter < time.Second {
		errs = append(errs, fmt.Errorf("ready retry-after must be >= 1s, got %s", c.ReadyRetryAfter))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("shutdown timeout must be > 0, got %s", c.ShutdownTimeout))
	}
	errs = append(errs, c.validateTokens()...)
	return errors.Join(errs...)
}

func (c Config) validateTokens() []error {
	var errs []error
	if c.APIToken != "" && strings.TrimSpace(c.APIToken) != c.APIToken {
		errs = append(errs, errors.New("api token must not have surrounding spaces"))
	}
	labels := map[string]bool{}
	tokens := map[string]bool{}
	if c.APIToken != "" {
		labels[APITokenLabel] = true
		tokens[c.APIToken] = true
	}
	for i, st := range c.ScopedTokens {
		switch {
		case st.Label == "":
			errs = append(errs, fmt.Errorf("scoped token #%d: label is required", i+1))
		case st.Label == AnonymousActor || labels[st.Label]:
			errs = append(errs, fmt.Errorf("scoped token %q: label is reserved or used twice", st.Label))
		}
		labels[st.Label] = true
		switch {
		case st.Token == "":
			errs = append(errs, fmt.Errorf("scoped token %q: token is empty", st.Label))
		case strings.TrimSpace(st.Token) != st.Token || strings.ContainsAny(st.Token, " \t\r\n"):
			errs = append(errs, fmt.Errorf("scoped token %q: token must not contain spaces", st.Label))
		case tokens[st.Token]:
			// Never print the token itself.
			errs = append(errs, fmt.Errorf("scoped token %q: same token as another entry", st.Label))
		}
		tokens[st.Token] = true
		if len(st.Namespaces) == 0 {
			errs = append(errs, fmt.Errorf("scoped token %q: no namespaces (use %q for all)", st.Label, AllNamespaces))
		}
		for _, ns := range st.Namespaces {
			if ns == AllNamespaces {
				continue
			}
			if err := ValidateNamespace(ns); err != nil {
				errs = append(errs, fmt.Errorf("scoped token %q: %w", st.Label, err))
			}
		}
	}
	return errs
}

// Validate checks the window when the limit is enabled.
func (r RateLimit) Validate() error {
	var errs []error
	if r.Max < 0 {
		errs = append(errs, fmt.Errorf("rate limit max must be >= 0, got %d", r.Max))
	}
	if r.Max > 0 && r.Window < time.Millisecond {
		errs = append(errs, fmt.Errorf("rate limit window must be >= 1ms when the limit is enabled, got %s", r.Window))
	}
	return errors.Join(errs...)
}

// ParseScopedTokens parses the text form of scoped tokens used by the
// environment: entries separated by ';' or newlines, each
// "label=token@ns1,ns2" ("*" for all namespaces). The label ends at the
// first '=', the namespaces start after the last '@', so a token may contain
// '=' and '@'. Errors never include the token.
func ParseScopedTokens(s string) ([]ScopedToken, error) {
	var out []ScopedToken
	var errs []error
	entries := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '\n' || r == '\r' })
	for i, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		label, rest, ok1 := strings.Cut(e, "=")
		at := strings.LastIndex(rest, "@")
		if !ok1 || at < 0 {
			errs = append(errs, fmt.Errorf("scoped token entry #%d: want label=token@namespaces", i+1))
			continue
		}
		st := ScopedToken{Label: strings.TrimSpace(label), Token: strings.TrimSpace(rest[:at])}
		for _, ns := range strings.Split(rest[at+1:], ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				st.Namespaces = append(st.Namespaces, ns)
			}
		}
		out = append(out, st)
	}
	return out, errors.Join(errs...)
}

// ValidateNamespace checks a namespace: 1–128 characters of [A-Za-z0-9._:-].
func ValidateNamespace(ns string) error {
	if ns == "" {
		return errors.New("namespace is empty")
	}
	if len(ns) > 128 {
		return fmt.Errorf("namespace is longer than 128 characters (%d)", len(ns))
	}
	for i := 0; i < len(ns); i++ {
		if !namespaceChar(ns[i]) {
			return fmt.Errorf("namespace has an invalid character at position %d (allowed: A-Z a-z 0-9 . _ : -)", i+1)
		}
	}
	return nil
}

func namespaceChar(b byte) bool {
	switch {
	case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		return true
	case b == '.', b == '_', b == ':', b == '-':
		return true
	}
	return false
}
