package soma

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/somafractalmemory/soma/internal/consistency"
)

// Header names on the wire (both APIs). Renaming one breaks every client.
const (
	HeaderNamespace        = "X-Soma-Namespace"
	HeaderConsistencyToken = consistency.Header
	HeaderAuthorization    = "Authorization"
	HeaderRetryAfter       = "Retry-After"
)

// contentTypeNDJSON is the media type of exports and import bodies.
const contentTypeNDJSON = "application/x-ndjson"

// Routes the client calls, relative to ClientConfig.URL (writes) and
// ClientConfig.QueryURL (reads).
const (
	routeStore            = "/store"
	routeRemember         = "/remember"
	routeStoreBulk        = "/store_bulk"
	routeLink             = "/link"
	routeUnlink           = "/unlink"
	routeDelete           = "/delete"
	routeDeleteMany       = "/delete_many"
	routeSetImportance    = "/set_importance"
	routeImport           = "/import"
	routeRecall           = "/recall"
	routeRecallWithScores = "/recall_with_scores"
	routeRange            = "/range"
	routeNeighbors        = "/neighbors"
	routeShortestPath     = "/shortest_path"
	routeStats            = "/stats"
	routeMemory           = "/memory"
	routeExport           = "/export"
)

// Client defaults.
const (
	// DefaultClientTimeout bounds one request (not an import chunk nor an
	// Export stream).
	DefaultClientTimeout = 60 * time.Second
	// DefaultImportTimeout bounds one import chunk: the service embeds
	// and stores up to ImportChunkBytes of records before it answers,
	// which through an external embedder takes longer than a request.
	DefaultImportTimeout = 10 * time.Minute
	// DefaultExportIdleTimeout is the longest an Export waits for the
	// next bytes of the stream (or for its start) before giving up.
	DefaultExportIdleTimeout = 2 * time.Minute
	// DefaultImportChunkBytes is the largest NDJSON body Import sends in
	// one request; it stays well under the service's bulk body limit
	// (SOMA_MAX_BULK_BODY_BYTES, 64 MiB by default).
	DefaultImportChunkBytes = 4 << 20
	// maxErrorBody bounds how much of an error answer is read.
	maxErrorBody = 1 << 20
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// URL is the base URL of the write API, e.g. http://127.0.0.1:9595.
	URL string
	// QueryURL is the base URL of the query API; empty means URL (soma
	// serve answers the query routes on the write port too).
	QueryURL string
	// Namespace is sent as X-Soma-Namespace; empty leaves the service's
	// default namespace.
	Namespace string
	// Token is the bearer token; empty sends no Authorization header.
	Token string
	// HTTPClient sends the requests; nil is a new http.Client.
	HTTPClient *http.Client
	// Timeout bounds each request but import chunks and Export streams.
	// 0 is DefaultClientTimeout; negative is none.
	Timeout time.Duration
	// ImportTimeout bounds each import request (one chunk). 0 is
	// DefaultImportTimeout; negative is none.
	ImportTimeout time.Duration
	// ExportIdleTimeout bounds how long an Export waits for the answer
	// and then for each next read of the stream: a stalled service fails
	// the export instead of hanging it, however long the whole stream
	// takes. 0 is DefaultExportIdleTimeout; negative is none.
	ExportIdleTimeout time.Duration
	// ImportChunkBytes is the largest body one import request carries
	// (whole lines; a single longer line is sent alone). 0 is
	// DefaultImportChunkBytes.
	ImportChunkBytes int
}

// Validate reports every problem at once.
func (c ClientConfig) Validate() error {
	var errs []error
	check := func(name, raw string, required bool) {
		if raw == "" {
			if required {
				errs = append(errs, fmt.Errorf("%s is required", name))
			}
			return
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q: want an http:// or https:// URL", name, redactURL(raw)))
		}
	}
	check("URL", c.URL, true)
	check("QueryURL", c.QueryURL, false)
	if strings.ContainsAny(c.Namespace, "\r\n") || strings.ContainsAny(c.Token, "\r\n") {
		errs = append(errs, errors.New("namespace and token must not contain line breaks"))
	}
	if c.ImportChunkBytes < 0 {
		errs = append(errs, errors.New("ImportChunkBytes must be ≥ 0"))
	}
	return errors.Join(errs...)
}

// redactURL hides the password of a URL's user information, also in a
// URL that does not parse, so an error never shows a secret.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	// Unparsable: everything before the last '@' of the authority goes.
	rest := raw
	prefix := ""
	if i := strings.Index(raw, "://"); i >= 0 {
		prefix, rest = raw[:i+3], raw[i+3:]
	}
	auth, path := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		auth, path = rest[:i], rest[i:]
	}
	if i := strings.LastIndex(auth, "@"); i >= 0 {
		auth = "xxxxx" + auth[i:]
	}
	return prefix + auth + path
}

// Client is a Memory over the service's HTTP APIs. It keeps session
// consistency: the consistency tokens of its writes are merged and sent
// with each of its reads, so a read sees every write this Client made
// before it. Safe for concurrent use.
type Client struct {
	cfg      ClientConfig
	writeURL string
	queryURL string
	http     *http.Client

	mu  sync.Mutex
	tok consistency.Token
}

var _ Memory = (*Client)(nil)

// NewClient checks cfg and returns a client. It does not contact the
// service.
func NewClient(cfg ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("client config: %w", err)
	}
	if cfg.QueryURL == "" {
		cfg.QueryURL = cfg.URL
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultClientTimeout
	}
	if cfg.ImportTimeout == 0 {
		cfg.ImportTimeout = DefaultImportTimeout
	}
	if cfg.ExportIdleTimeout == 0 {
		cfg.ExportIdleTimeout = DefaultExportIdleTimeout
	}
	if cfg.ImportChunkBytes == 0 {
		cfg.ImportChunkBytes = DefaultImportChunkBytes
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{
		cfg:      cfg,
		writeURL: strings.TrimRight(cfg.URL, "/"),
		queryURL: strings.TrimRight(cfg.QueryURL, "/"),
		http:     hc,
	}, nil
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// ConsistencyToken returns the merged token of the client's writes so far
// ("" before the first write).
func (c *Client) ConsistencyToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tok.Encode()
}

// ObserveConsistencyToken merges a token obtained elsewhere (another
// process's write) into the client's, so its reads wait for that write
// too. An empty token changes nothing; a malformed one is ErrInvalid.
func (c *Client) ObserveConsistencyToken(token string) error {
	t, err := consistency.Parse(token)
	if err != nil {
		return invalid(err)
	}
	c.observe(t)
	return nil
}

// ResetConsistencyToken forgets every token: later reads wait for
// nothing.
func (c *Client) ResetConsistencyToken() {
	c.mu.Lock()
	c.tok = consistency.Token{}
	c.mu.Unlock()
}

// observe merges t. A token of another log (the service was reconfigured)
// replaces the old one: positions of two logs cannot be compared.
func (c *Client) observe(t consistency.Token) {
	if t.IsZero() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	merged, err := c.tok.Merge(t)
	if err != nil {
		merged = t
	}
	c.tok = merged
}

// request is one HTTP call.
type request struct {
	method      string
	write       bool // write API (else query API)
	path        string
	query       url.Values
	body        io.Reader
	contentType string
	// timeout bounds the request; 0 is ClientConfig.Timeout, negative
	// none (a stream, whose caller bounds it and closes the body).
	timeout time.Duration
}

// jsonBody encodes v as a request body.
func jsonBody(v any) (io.Reader, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, invalid(fmt.Errorf("encode request: %w", err))
	}
	return &buf, nil
}

// send performs r and returns the 2xx response (with its cancel func), or
// an *APIError for any other status.
func (c *Client) send(ctx context.Context, r request) (*http.Response, context.CancelFunc, error) {
	cancel := context.CancelFunc(func() {})
	timeout := r.timeout
	if timeout == 0 {
		timeout = c.cfg.Timeout
	}
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	base := c.queryURL
	if r.write {
		base = c.writeURL
	}
	u := base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, r.body)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	if r.body != nil {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Accept", "application/json")
	if c.cfg.Namespace != "" {
		req.Header.Set(HeaderNamespace, c.cfg.Namespace)
	}
	if c.cfg.Token != "" {
		req.Header.Set(HeaderAuthorization, "Bearer "+c.cfg.Token)
	}
	if !r.write {
		if tok := c.ConsistencyToken(); tok != "" {
			req.Header.Set(HeaderConsistencyToken, tok)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer cancel()
		defer resp.Body.Close()
		return nil, nil, fmt.Errorf("%s %s: %w", r.method, r.path, apiError(resp))
	}
	return resp, cancel, nil
}

// apiError builds the error of a non-2xx answer.
func apiError(resp *http.Response) *APIError {
	e := &APIError{Status: resp.StatusCode}
	if s := resp.Header.Get(HeaderRetryAfter); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		Detail  any             `json:"detail"`
		Lagging json.RawMessage `json:"lagging"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&body); err == nil && body.Detail != nil {
		e.Detail = body.Detail
		if len(body.Lagging) > 0 && string(body.Lagging) != "null" {
			e.Lagging = body.Lagging
		}
	} else if t := strings.TrimSpace(string(raw)); t != "" {
		e.Detail = t
	}
	return e
}

// call performs r and decodes a JSON answer into out (nil: discard). For
// writes, the answer's consistency token is merged into the client's.
func (c *Client) call(ctx context.Context, r request, out any) error {
	resp, cancel, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer cancel()
	defer resp.Body.Close()
	if r.write {
		if t, err := consistency.Parse(resp.Header.Get(HeaderConsistencyToken)); err == nil {
			c.observe(t)
		}
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", r.method, r.path, err)
	}
	return nil
}

// post sends v as JSON to a write route and decodes the answer into out.
func (c *Client) post(ctx context.Context, path string, v, out any) error {
	body, err := jsonBody(v)
	if err != nil {
		return err
	}
	return c.call(ctx, request{method: http.MethodPost, write: true, path: path, body: body}, out)
}

// storeItem is one memory in a store request.
type storeItem struct {
	Coord     Coordinate     `json:"coord,omitempty"`
	Payload   map[string]any `json:"payload"`
	Type      MemoryType     `json:"type,omitempty"`
	Embedding []float32      `json:"embedding,omitempty"`
}

// item renders a request; keepNil leaves a nil coordinate out (Remember).
func item(r StoreRequest, keepNil bool) storeItem {
	it := storeItem{Coord: r.Coordinate, Payload: r.Payload, Type: r.Type, Embedding: r.Vector}
	if it.Payload == nil {
		it.Payload = map[string]any{}
	}
	if it.Coord == nil && !keepNil {
		it.Coord = Coordinate{}
	}
	return it
}

// Store implements Memory (POST /store).
func (c *Client) Store(ctx context.Context, req StoreRequest) (StoreResult, error) {
	it := item(req, false)
	// An empty coordinate must be sent as [], which omitempty would drop.
	body := map[string]any{"coord": it.Coord, "payload": it.Payload}
	if it.Type != "" {
		body["type"] = it.Type
	}
	if it.Embedding != nil {
		body["embedding"] = it.Embedding
	}
	var ans StoreResult
	err := c.post(ctx, routeStore, body, &ans)
	return ans, err
}

// Remember implements Memory (POST /remember).
func (c *Client) Remember(ctx context.Context, req StoreRequest) (StoreResult, error) {
	it := item(req, true)
	body := map[string]any{"payload": it.Payload}
	if req.Coordinate != nil {
		body["coord"] = req.Coordinate
	}
	if it.Type != "" {
		body["type"] = it.Type
	}
	if it.Embedding != nil {
		body["embedding"] = it.Embedding
	}
	var ans StoreResult
	err := c.post(ctx, routeRemember, body, &ans)
	return ans, err
}

// StoreBulk implements Memory (POST /store_bulk).
func (c *Client) StoreBulk(ctx context.Context, items []StoreRequest) (BulkResult, error) {
	body := make([]map[string]any, len(items))
	for i, r := range items {
		it := item(r, false)
		m := map[string]any{"coord": it.Coord, "payload": it.Payload}
		if it.Type != "" {
			m["type"] = it.Type
		}
		if it.Embedding != nil {
			m["embedding"] = it.Embedding
		}
		body[i] = m
	}
	var ans BulkResult
	err := c.post(ctx, routeStoreBulk, map[string]any{"items": body}, &ans)
	return ans, err
}

// linkBody is the body of /link and /unlink.
type linkBody struct {
	From   Coordinate `json:"from_coord"`
	To     Coordinate `json:"to_coord"`
	Type   string     `json:"type,omitempty"`
	Weight *float64   `json:"weight,omitempty"`
}

// Link implements Memory (POST /link). A nil Weight is left out, so the
// service applies DefaultLinkWeight.
func (c *Client) Link(ctx context.Context, req LinkRequest) (Accepted, error) {
	typ := req.Type
	if typ == "" {
		typ = DefaultLinkType
	}
	var ans Accepted
	err := c.post(ctx, routeLink, linkBody{From: orEmpty(req.From), To: orEmpty(req.To), Type: typ, Weight: req.Weight}, &ans)
	return ans, err
}

// Unlink implements Memory (POST /unlink).
func (c *Client) Unlink(ctx context.Context, from, to Coordinate) (Accepted, error) {
	var ans Accepted
	err := c.post(ctx, routeUnlink, linkBody{From: orEmpty(from), To: orEmpty(to)}, &ans)
	return ans, err
}

func orEmpty(c Coordinate) Coordinate {
	if c == nil {
		return Coordinate{}
	}
	return c
}

// Delete implements Memory (POST /delete).
func (c *Client) Delete(ctx context.Context, coord Coordinate) (DeleteResult, error) {
	var ans struct {
		Accepted
		Deleted bool `json:"deleted"`
	}
	if err := c.post(ctx, routeDelete, map[string]any{"coord": orEmpty(coord)}, &ans); err != nil {
		return DeleteResult{}, err
	}
	res := DeleteResult{Accepted: ans.Accepted}
	if ans.Deleted {
		res.Deleted = 1
	}
	return res, nil
}

// DeleteMany implements Memory (POST /delete_many).
func (c *Client) DeleteMany(ctx context.Context, coords []Coordinate) (DeleteResult, error) {
	body := make([]Coordinate, len(coords))
	for i, co := range coords {
		body[i] = orEmpty(co)
	}
	var ans DeleteResult
	err := c.post(ctx, routeDeleteMany, map[string]any{"coords": body}, &ans)
	return ans, err
}

// SetImportance implements Memory (POST /set_importance).
func (c *Client) SetImportance(ctx context.Context, coord Coordinate, importance float64) (ImportanceResult, error) {
	var ans ImportanceResult
	err := c.post(ctx, routeSetImportance, map[string]any{"coord": orEmpty(coord), "importance": importance}, &ans)
	return ans, err
}

// get calls a GET route of the query API.
func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	return c.call(ctx, request{method: http.MethodGet, path: path, query: q}, out)
}

// Get implements Memory (GET /memory).
func (c *Client) Get(ctx context.Context, coord Coordinate) (Record, error) {
	var rec Record
	err := c.get(ctx, routeMemory, url.Values{"coord": {coord.String()}}, &rec)
	return rec, err
}

// recallBody is the body of /recall and /recall_with_scores.
type recallBody struct {
	Query   string         `json:"query"`
	TopK    int            `json:"top_k,omitempty"`
	Type    MemoryType     `json:"type,omitempty"`
	Filters map[string]any `json:"filters,omitempty"`
}

// Recall implements Memory (POST /recall).
func (c *Client) Recall(ctx context.Context, req RecallRequest) ([]Record, error) {
	body, err := jsonBody(recallBody(req))
	if err != nil {
		return nil, err
	}
	var ans struct {
		Matches []Record `json:"matches"`
	}
	if err := c.call(ctx, request{method: http.MethodPost, path: routeRecall, body: body}, &ans); err != nil {
		return nil, err
	}
	return nonNil(ans.Matches), nil
}

// RecallWithScores implements Memory (POST /recall_with_scores, with a
// JSON body).
func (c *Client) RecallWithScores(ctx context.Context, req RecallRequest) ([]ScoredRecord, error) {
	body, err := jsonBody(recallBody(req))
	if err != nil {
		return nil, err
	}
	var ans struct {
		Results []struct {
			Payload        Record  `json:"payload"`
			Score          float64 `json:"score"`
			Cosine         float64 `json:"cosine"`
			ImportanceNorm float64 `json:"importance_norm"`
		} `json:"results"`
	}
	if err := c.call(ctx, request{method: http.MethodPost, path: routeRecallWithScores, body: body}, &ans); err != nil {
		return nil, err
	}
	out := make([]ScoredRecord, len(ans.Results))
	for i, r := range ans.Results {
		out[i] = ScoredRecord{Record: r.Payload, Cosine: r.Cosine, ImportanceNorm: r.ImportanceNorm, Score: r.Score}
	}
	return out, nil
}

// Neighbors implements Memory (GET /neighbors).
func (c *Client) Neighbors(ctx context.Context, coord Coordinate, opts NeighborsOptions) ([]Edge, error) {
	q := url.Values{"coord": {coord.String()}}
	if opts.Type != "" {
		q.Set("link_type", opts.Type)
	}
	if opts.Limit != 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	var ans struct {
		Neighbors [][2]json.RawMessage `json:"neighbors"`
	}
	if err := c.get(ctx, routeNeighbors, q, &ans); err != nil {
		return nil, err
	}
	out := make([]Edge, 0, len(ans.Neighbors))
	for _, pair := range ans.Neighbors {
		var e struct {
			To        Coordinate `json:"to"`
			Type      string     `json:"type"`
			Weight    float64    `json:"weight"`
			Timestamp *float64   `json:"timestamp"`
		}
		if err := json.Unmarshal(pair[1], &e); err != nil {
			return nil, fmt.Errorf("GET %s: decode edge: %w", routeNeighbors, err)
		}
		edge := Edge{From: append(Coordinate{}, coord...), To: e.To, Type: e.Type, Weight: e.Weight}
		if e.Timestamp != nil {
			edge.Timestamp = epochTime(*e.Timestamp)
		}
		out = append(out, edge)
	}
	return out, nil
}

// epochTime converts epoch seconds to a UTC time (microsecond precision).
func epochTime(sec float64) time.Time {
	return time.UnixMicro(int64(sec*1e6 + 0.5)).UTC()
}

// ShortestPath implements Memory (GET /shortest_path).
func (c *Client) ShortestPath(ctx context.Context, from, to Coordinate, linkType string) ([]Coordinate, error) {
	q := url.Values{"frm": {from.String()}, "to": {to.String()}}
	if linkType != "" {
		q.Set("link_type", linkType)
	}
	var ans struct {
		Path []Coordinate `json:"path"`
	}
	if err := c.get(ctx, routeShortestPath, q, &ans); err != nil {
		return nil, err
	}
	return nonNil(ans.Path), nil
}

// Range implements Memory (GET /range).
func (c *Client) Range(ctx context.Context, req RangeRequest) ([]Coordinate, error) {
	q := url.Values{}
	if req.Min != nil {
		q.Set("min", req.Min.String())
	}
	if req.Max != nil {
		q.Set("max", req.Max.String())
	}
	if req.Type != "" {
		q.Set("type", string(req.Type))
	}
	var ans struct {
		Coords []Coordinate `json:"coords"`
	}
	if err := c.get(ctx, routeRange, q, &ans); err != nil {
		return nil, err
	}
	return nonNil(ans.Coords), nil
}

// Stats implements Memory (GET /stats).
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := c.get(ctx, routeStats, nil, &s)
	return s, err
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Export implements Memory (GET /export).
func (c *Client) Export(ctx context.Context, w io.Writer) (int, error) {
	return c.ExportWithProgress(ctx, w, nil)
}

// ExportWithProgress is Export calling progress (when not nil) with the
// number of records written so far. The stream (GET /export?links=true:
// the records, then their edges as link lines) is copied line by line as it arrives; a stream cut by the
// service is an error, never a short export. The whole stream is bounded
// only by ctx, but waiting for the answer or for the next bytes longer
// than ClientConfig.ExportIdleTimeout fails the export.
func (c *Client) ExportWithProgress(ctx context.Context, w io.Writer, progress func(records int)) (int, error) {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	idle := newIdleTimer(c.cfg.ExportIdleTimeout, func() { stop(errExportIdle) })
	defer idle.stop()
	n := 0
	fail := func(err error) error {
		if context.Cause(ctx) == errExportIdle {
			return fmt.Errorf("export: after %d records: %w: nothing received for %s", n, errExportIdle, c.cfg.ExportIdleTimeout)
		}
		return err
	}
	q := url.Values{"links": {"true"}}
	resp, cancel, err := c.send(ctx, request{method: http.MethodGet, path: routeExport, query: q, timeout: -1})
	if err != nil {
		return 0, fail(err)
	}
	defer cancel()
	defer resp.Body.Close()
	idle.reset()
	br := bufio.NewReaderSize(idleReader{resp.Body, idle}, 64<<10)
	for {
		line, rerr := br.ReadBytes('\n')
		if len(line) > 0 {
			if _, err := w.Write(line); err != nil {
				return n, fmt.Errorf("export: write: %w", err)
			}
			if !isLinkLine(line) && len(bytes.TrimSpace(line)) > 0 {
				n++
				if progress != nil {
					progress(n)
				}
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, fail(fmt.Errorf("export: stream cut after %d records: %w", n, rerr))
		}
	}
}

// errExportIdle is the cause of an export cancelled for its stream's
// silence; it is ErrUnavailable.
var errExportIdle = &classifiedError{err: errors.New("export stream stalled"), sentinels: []error{ErrUnavailable}}

// idleTimer calls fire once when reset has not been called for d; d ≤ 0
// never fires.
type idleTimer struct {
	d time.Duration
	t *time.Timer
}

func newIdleTimer(d time.Duration, fire func()) *idleTimer {
	it := &idleTimer{d: d}
	if d > 0 {
		it.t = time.AfterFunc(d, fire)
	}
	return it
}

func (it *idleTimer) reset() {
	if it.t != nil {
		it.t.Reset(it.d)
	}
}

func (it *idleTimer) stop() {
	if it.t != nil {
		it.t.Stop()
	}
}

// idleReader restarts the idle timer whenever bytes arrive.
type idleReader struct {
	r    io.Reader
	idle *idleTimer
}

func (r idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.idle.reset()
	}
	return n, err
}

// isLinkLine reports whether an exported line is a link line. The service
// writes record lines with sorted keys, so they start with a key before
// "link" ("coordinate" is always there); a link line starts with it.
func isLinkLine(line []byte) bool {
	return bytes.HasPrefix(bytes.TrimSpace(line), []byte(`{"`+KeyLink+`":`))
}

// Import implements Memory (POST /import, in chunks).
func (c *Client) Import(ctx context.Context, r io.Reader, replace bool) (ImportResult, error) {
	return c.ImportWithOptions(ctx, r, ImportOptions{Replace: replace})
}

// ImportOptions tune ImportWithOptions.
type ImportOptions struct {
	// Replace re-stores records whose coordinate already holds a memory;
	// otherwise they are skipped.
	Replace bool
	// Progress, when not nil, is called after every chunk the service
	// accepted.
	Progress func(ImportProgress)
}

// ImportProgress is how far an import got.
type ImportProgress struct {
	// Bytes and Lines read from the input and accepted by the service.
	Bytes int64
	Lines int
	// Imported and Skipped records so far.
	Imported, Skipped int
	// Links re-created so far.
	Links int
}

// ImportWithOptions sends the NDJSON lines of r (records and link lines)
// to POST /import in chunks of whole lines of at most
// ClientConfig.ImportChunkBytes, so large inputs stay under the service's
// body limit and progress can be reported. Each chunk is validated and
// stored by the service before the next is sent: a malformed line is an
// ErrInvalid naming its line number in the whole input, and the records
// of earlier chunks stay imported (the error says how many). A link
// line's source must be a record of the input or a stored memory; the
// service checks sources of earlier chunks against what it has stored, so
// with several replicas behind a load balancer a link may be refused when
// its source was stored by another replica moments before.
func (c *Client) ImportWithOptions(ctx context.Context, r io.Reader, opts ImportOptions) (ImportResult, error) {
	q := url.Values{}
	if opts.Replace {
		q.Set("replace", "true")
	}
	var (
		res   ImportResult
		prog  ImportProgress
		chunk bytes.Buffer
		lines int
	)
	flush := func() error {
		if chunk.Len() == 0 {
			return nil
		}
		var ans ImportResult
		err := c.call(ctx, request{method: http.MethodPost, write: true, path: routeImport, query: q, body: bytes.NewReader(chunk.Bytes()), contentType: contentTypeNDJSON, timeout: c.cfg.ImportTimeout}, &ans)
		if err != nil {
			if ae := shiftLines(err, prog.Lines); ae != nil {
				// Wrapped anew: the first message was rendered before the
				// shift.
				err = fmt.Errorf("POST %s: %w", routeImport, ae)
			}
			if prog.Lines > 0 {
				return fmt.Errorf("import: after %d records and %d links imported: %w", res.Imported, res.Links, err)
			}
			return fmt.Errorf("import: %w", err)
		}
		res.Imported += ans.Imported
		res.Skipped += ans.Skipped
		res.Links += ans.Links
		res.EventIDs = append(res.EventIDs, ans.EventIDs...)
		res.ConsistencyToken = c.ConsistencyToken()
		prog.Bytes += int64(chunk.Len())
		prog.Lines += lines
		prog.Imported, prog.Skipped, prog.Links = res.Imported, res.Skipped, res.Links
		chunk.Reset()
		lines = 0
		if opts.Progress != nil {
			opts.Progress(prog)
		}
		return nil
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, rerr := br.ReadBytes('\n')
		if len(line) > 0 {
			if chunk.Len() > 0 && chunk.Len()+len(line) > c.cfg.ImportChunkBytes {
				if err := flush(); err != nil {
					return res, err
				}
			}
			chunk.Write(line)
			if line[len(line)-1] != '\n' {
				chunk.WriteByte('\n')
			}
			lines++
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return res, fmt.Errorf("import: read: %w", rerr)
		}
	}
	if err := flush(); err != nil {
		return res, err
	}
	if res.EventIDs == nil {
		res.EventIDs = []string{}
	}
	return res, nil
}

// shiftLines adds offset to the line numbers of a 422 answer's field
// errors (loc ["body","line",n]), so they count from the whole input's
// start rather than the chunk's, and returns the answer it changed (nil
// when there was nothing to change).
func shiftLines(err error, offset int) *APIError {
	var ae *APIError
	if offset == 0 || !errors.As(err, &ae) {
		return nil
	}
	list, ok := ae.Detail.([]any)
	if !ok {
		return nil
	}
	for _, item := range list {
		fe, ok := item.(map[string]any)
		if !ok {
			continue
		}
		loc, ok := fe["loc"].([]any)
		if !ok {
			continue
		}
		for i := 0; i+1 < len(loc); i++ {
			if loc[i] != "line" {
				continue
			}
			if n, ok := loc[i+1].(json.Number); ok {
				if v, err := n.Int64(); err == nil {
					loc[i+1] = json.Number(strconv.FormatInt(v+int64(offset), 10))
				}
			}
		}
	}
	return ae
}
