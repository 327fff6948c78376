package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/internal/httpx"
)

// Routes the harness calls. They are the public API's paths: a rename
// there breaks the harness.
const (
	routeStore     = "/store"
	routeStoreBulk = "/store_bulk"
	routeRecall    = "/recall"
	routeMemory    = "/memory"
)

// maxResponseBytes bounds what the harness reads of one answer.
const maxResponseBytes = 64 << 20

// client sends requests to a Target. Safe for concurrent use.
type client struct {
	hc     *http.Client
	target Target
}

// newClient keeps up to conns idle connections per host, so every worker
// reuses its own connection.
func newClient(t Target, conns int) *client {
	tr := &http.Transport{
		Proxy:               nil, // loopback benchmarks never go through a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * (conns + 1),
		MaxIdleConnsPerHost: conns + 1,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &client{hc: &http.Client{Transport: tr, Timeout: t.Timeout}, target: t}
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// response is a fully read answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request and reads the whole answer (so the connection is
// reused). token, when not empty, goes in the consistency header.
func (c *client) do(ctx context.Context, method, url string, body []byte, token string) (response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(httpx.HeaderNamespace, c.target.Namespace)
	if c.target.Token != "" {
		req.Header.Set(httpx.HeaderAuthorization, "Bearer "+c.target.Token)
	}
	if token != "" {
		req.Header.Set(consistency.Header, token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return response{}, fmt.Errorf("read answer of %s %s: %w", method, url, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// Error kinds besides HTTP status codes.
const (
	kindTransport = "transport" // no answer: connection refused, reset, timeout
	kindInvalid   = "invalid"   // 200 whose body breaks the contract
)

// tally counts failures by "<route> <status or kind>". Safe for
// concurrent use.
type tally struct {
	mu sync.Mutex
	m  map[string]int64
}

func (t *tally) add(route, kind string) {
	t.mu.Lock()
	if t.m == nil {
		t.m = make(map[string]int64)
	}
	t.m[route+" "+kind]++
	t.mu.Unlock()
}

func (t *tally) status(route string, code int) { t.add(route, strconv.Itoa(code)) }

func (t *tally) snapshot() map[string]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int64, len(t.m))
	for k, v := range t.m {
		out[k] = v
	}
	return out
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
