package bench

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/somafractalmemory/soma/internal/httpx"
)

// Defaults of a Target.
const (
	DefaultURL     = "http://127.0.0.1:9595"
	DefaultTimeout = 30 * time.Second
)

// Target is the service under test.
type Target struct {
	// URL is the base URL of the write API (commands). Default DefaultURL.
	URL string
	// QueryURL is the base URL of the query API. Default: URL (soma serve
	// answers queries on the write port too).
	QueryURL string
	// Token is sent as "Authorization: Bearer <Token>" when set. It is
	// never written to results.
	Token string
	// Namespace is sent as X-Soma-Namespace. Required: use DefaultNamespace
	// for a fresh one so runs never mix.
	Namespace string
	// AllowRemote permits URLs that are not loopback addresses.
	AllowRemote bool
	// Timeout bounds every request. Default DefaultTimeout.
	Timeout time.Duration
}

// DefaultNamespace is the fresh namespace of a run: bench-<seed>-<unix ms>.
func DefaultNamespace(seed int64, now time.Time) string {
	return fmt.Sprintf("bench-%d-%d", seed, now.UnixMilli())
}

func (t Target) withDefaults() Target {
	if t.URL == "" {
		t.URL = DefaultURL
	}
	if t.QueryURL == "" {
		t.QueryURL = t.URL
	}
	if t.Timeout == 0 {
		t.Timeout = DefaultTimeout
	}
	t.URL = strings.TrimRight(t.URL, "/")
	t.QueryURL = strings.TrimRight(t.QueryURL, "/")
	return t
}

// Validate reports every problem of the target (after defaults) at once.
func (t Target) Validate() error {
	t = t.withDefaults()
	var errs []error
	for _, u := range []struct{ flag, v string }{{"url", t.URL}, {"query-url", t.QueryURL}} {
		if err := checkURL(u.v, t.AllowRemote); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.flag, err))
		}
	}
	if err := httpx.ValidateNamespace(t.Namespace); err != nil {
		errs = append(errs, fmt.Errorf("namespace: %w", err))
	}
	if t.Timeout < 0 {
		errs = append(errs, errors.New("timeout must not be negative"))
	}
	return errors.Join(errs...)
}

// ErrRemoteTarget is wrapped by Validate for a URL that is not loopback
// while AllowRemote is off.
var ErrRemoteTarget = errors.New("not a loopback address (pass --allow-remote to benchmark a remote server)")

// checkURL accepts http(s) URLs whose host is a loopback IP or
// "localhost", or any host when allowRemote.
func checkURL(raw string, allowRemote bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", raw)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%q: no host", raw)
	}
	if allowRemote || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("%q: %w", raw, ErrRemoteTarget)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
