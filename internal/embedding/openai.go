package embedding

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Defaults of OpenAIConfig.
const (
	DefaultOpenAIBatchSize  = 64
	DefaultOpenAITimeout    = 30 * time.Second
	DefaultOpenAIMaxRetries = 3
	DefaultOpenAIBackoff    = 250 * time.Millisecond
	DefaultOpenAIMaxBackoff = 30 * time.Second

	// MaxOpenAIBatchSize is the largest batch OpenAI's API accepts.
	MaxOpenAIBatchSize = 2048
	// maxResponseBytes bounds one response body (64 inputs × 4096 dims
	// × ~20 bytes a number is ~5 MiB).
	maxResponseBytes = 256 << 20
	// maxErrorSnippet bounds how much of an error body goes into an error.
	maxErrorSnippet = 200
)

// OpenAIConfig configures an OpenAI-compatible /v1/embeddings client. The
// zero value of every optional field selects its default.
type OpenAIConfig struct {
	// BaseURL is the API root as OpenAI clients take it, e.g.
	// "https://api.openai.com/v1", "http://ollama:11434/v1",
	// "http://tei:8080/v1". Requests go to BaseURL + "/embeddings"; a URL
	// with no path (e.g. "http://vllm:8000") gets "/v1" added.
	BaseURL string
	// Model is the model name sent to the server, e.g. "nomic-embed-text".
	// It is part of the model id (OpenAIModelID).
	Model string
	// APIKey, when set, is sent as "Authorization: Bearer <APIKey>". It never
	// appears in errors, in String() or in log output of this package.
	APIKey string
	// Dim is the expected vector dimension, checked on every response.
	Dim int
	// BatchSize is the number of inputs per request (default 64, at most
	// MaxOpenAIBatchSize).
	BatchSize int
	// Timeout bounds each HTTP request, one attempt (default 30s).
	Timeout time.Duration
	// MaxRetries is the number of retries after the first attempt of a
	// batch (default 3 when 0; negative: no retries). Network errors,
	// timeouts, 429 and 5xx are retried; other statuses are not.
	MaxRetries int
	// Backoff is the base of the exponential backoff (default 250ms): the
	// wait before retry n (0-based) is uniformly drawn from
	// [b/2, b] with b = min(Backoff·2ⁿ, MaxBackoff). A Retry-After header
	// (seconds or HTTP date) replaces the drawn wait.
	Backoff time.Duration
	// MaxBackoff caps one wait (default 30s). A Retry-After longer than
	// MaxBackoff ends the retries at once with ErrUnavailable.
	MaxBackoff time.Duration
	// DisableNormalize keeps vectors as the server returns them; by default
	// they are L2-normalised.
	DisableNormalize bool
	// SendDimensions sends "dimensions": Dim in each request, for models
	// that can shorten their vectors (OpenAI text-embedding-3-*). Off by
	// default: other servers may reject the field.
	SendDimensions bool
	// HTTPClient sends the requests (default: a client using
	// http.DefaultTransport). Its own Timeout, if any, applies in addition
	// to Timeout.
	HTTPClient *http.Client
}

// withDefaults returns c with every unset optional field at its default.
func (c OpenAIConfig) withDefaults() OpenAIConfig {
	if c.BatchSize == 0 {
		c.BatchSize = DefaultOpenAIBatchSize
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultOpenAITimeout
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultOpenAIMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.Backoff == 0 {
		c.Backoff = DefaultOpenAIBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultOpenAIMaxBackoff
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	return c
}

// Validate reports every problem of the configuration at once. It never
// includes the API key in its errors.
func (c OpenAIConfig) Validate() error {
	var errs []error
	if c.BaseURL == "" {
		errs = append(errs, errors.New("embedding base URL is required"))
	} else if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, errors.New("embedding base URL must be an absolute http or https URL"))
	}
	if strings.TrimSpace(c.Model) == "" {
		errs = append(errs, errors.New("embedding model is required"))
	}
	if strings.ContainsFunc(c.APIKey, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' }) {
		errs = append(errs, errors.New("embedding API key must be printable ASCII without spaces"))
	}
	if err := ValidateDim(c.Dim); err != nil {
		errs = append(errs, err)
	}
	if c.BatchSize < 0 || c.BatchSize > MaxOpenAIBatchSize {
		errs = append(errs, fmt.Errorf("embedding batch size %d: must be in 1..%d (0 for the default %d)", c.BatchSize, MaxOpenAIBatchSize, DefaultOpenAIBatchSize))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("embedding timeout %s: must not be negative", c.Timeout))
	}
	if c.Backoff < 0 {
		errs = append(errs, fmt.Errorf("embedding backoff %s: must not be negative", c.Backoff))
	}
	if c.MaxBackoff < 0 {
		errs = append(errs, fmt.Errorf("embedding max backoff %s: must not be negative", c.MaxBackoff))
	}
	return errors.Join(errs...)
}

// String describes the configuration with the API key redacted.
func (c OpenAIConfig) String() string {
	key := ""
	if c.APIKey != "" {
		key = "[redacted]"
	}
	return fmt.Sprintf("OpenAIConfig{BaseURL:%s Model:%q APIKey:%s Dim:%d BatchSize:%d Timeout:%s MaxRetries:%d Backoff:%s MaxBackoff:%s DisableNormalize:%t SendDimensions:%t}",
		c.BaseURL, c.Model, key, c.Dim, c.BatchSize, c.Timeout, c.MaxRetries, c.Backoff, c.MaxBackoff, c.DisableNormalize, c.SendDimensions)
}

// GoString is String, so that %#v does not print the API key either.
func (c OpenAIConfig) GoString() string { return c.String() }

// OpenAI embeds texts with an OpenAI-compatible /v1/embeddings endpoint
// (OpenAI, Ollama, vLLM, Hugging Face TEI, …). Model id
// "openai:<model>/<dim>".
//
// Inputs are sent in batches of BatchSize, one batch after the other, as
// {"model": Model, "input": [...]}; the vectors of data[i].embedding are put
// back in input order by data[i].index. Each batch is retried on network
// errors, timeouts, 429 (honouring Retry-After) and 5xx, with exponential
// backoff and jitter; other 4xx are not retried. Errors wrap ErrUnavailable,
// ErrBadResponse or ErrRejected; a done ctx gives an error wrapping both
// ErrUnavailable and ctx.Err().
//
// Safe for concurrent use.
type OpenAI struct {
	cfg      OpenAIConfig
	endpoint string
	model    string
	// sleep waits d or until ctx is done; replaced in tests.
	sleep func(ctx context.Context, d time.Duration) error
}

var _ Embedder = (*OpenAI)(nil)

// NewOpenAI returns a client for cfg after filling in defaults and
// validating it. It makes no request.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("openai embedder: %w", err)
	}
	cfg = cfg.withDefaults()
	u, _ := url.Parse(cfg.BaseURL) // validated above
	path := strings.TrimRight(u.Path, "/")
	if path == "" {
		path = "/v1"
	}
	u.Path = path + "/embeddings"
	u.RawPath = ""
	return &OpenAI{
		cfg:      cfg,
		endpoint: u.String(),
		model:    OpenAIModelID(cfg.Model, cfg.Dim),
		sleep:    sleepCtx,
	}, nil
}

// String describes the client without its API key.
func (o *OpenAI) String() string {
	ep := o.endpoint
	if u, err := url.Parse(ep); err == nil {
		ep = u.Redacted()
	}
	return "OpenAI{" + o.model + " " + ep + "}"
}

// Model returns "openai:<model>/<dim>".
func (o *OpenAI) Model() string { return o.model }

// Dim returns the expected vector dimension.
func (o *OpenAI) Dim() int { return o.cfg.Dim }

// Endpoint returns the URL requests are sent to.
func (o *OpenAI) Endpoint() string { return o.endpoint }

// Embed embeds texts in batches; see OpenAI. An empty texts makes no request.
func (o *OpenAI) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += o.cfg.BatchSize {
		end := min(start+o.cfg.BatchSize, len(texts))
		vecs, err := o.embedBatch(ctx, texts[start:end])
		if err != nil {
			return nil, fmt.Errorf("embed inputs %d..%d of %d with %s: %w", start, end-1, len(texts), o.model, err)
		}
		out = append(out, vecs...)
	}
	return out, nil
}

type embeddingsRequest struct {
	Model      string   `json:"model"`
	Input      []string `json:"input"`
	Dimensions int      `json:"dimensions,omitempty"`
}

type embeddingsResponse struct {
	Data []struct {
		Index     *int      `json:"index"`
		Embedding []float64 `json:"embedding"`
	} `json:"data"`
}

// outcome classifies one failed attempt.
type outcome struct {
	retry      bool
	retryAfter time.Duration // from a Retry-After header, 0 if none
}

func (o *OpenAI) embedBatch(ctx context.Context, batch []string) ([][]float32, error) {
	req := embeddingsRequest{Model: o.cfg.Model, Input: batch}
	if o.cfg.SendDimensions {
		req.Dimensions = o.cfg.Dim
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	for attempt := 0; ; attempt++ {
		vecs, oc, err := o.attempt(ctx, body, len(batch))
		if err == nil {
			return vecs, nil
		}
		if ctx.Err() != nil {
			return nil, ctxError(ctx)
		}
		if !oc.retry {
			return nil, err
		}
		if attempt >= o.cfg.MaxRetries {
			return nil, fmt.Errorf("after %d attempts: %w", attempt+1, err)
		}
		wait := o.backoff(attempt)
		if oc.retryAfter > 0 {
			if oc.retryAfter > o.cfg.MaxBackoff {
				return nil, fmt.Errorf("retry-after %s exceeds max backoff %s: %w", oc.retryAfter, o.cfg.MaxBackoff, err)
			}
			wait = oc.retryAfter
		}
		if o.sleep(ctx, wait) != nil {
			return nil, ctxError(ctx)
		}
	}
}

// attempt makes one request.
func (o *OpenAI) attempt(ctx context.Context, body []byte, n int) ([][]float32, outcome, error) {
	actx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, o.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, outcome{}, fmt.Errorf("%w: build request: %s", ErrRejected, o.redact(err.Error()))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if o.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.cfg.APIKey)
	}
	resp, err := o.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, outcome{retry: true}, fmt.Errorf("%w: %s", ErrUnavailable, o.redact(err.Error()))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, outcome{retry: true}, fmt.Errorf("%w: read response: %s", ErrUnavailable, o.redact(err.Error()))
	}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		if len(data) > maxResponseBytes {
			return nil, outcome{}, fmt.Errorf("%w: response larger than %d bytes", ErrBadResponse, maxResponseBytes)
		}
		vecs, err := o.decode(data, n)
		return vecs, outcome{}, err
	case code == http.StatusTooManyRequests || code >= 500:
		return nil, outcome{retry: true, retryAfter: retryAfter(resp.Header.Get("Retry-After"))},
			fmt.Errorf("%w: HTTP %d: %s", ErrUnavailable, code, o.snippet(data))
	default:
		return nil, outcome{}, fmt.Errorf("%w: HTTP %d: %s", ErrRejected, code, o.snippet(data))
	}
}

// decode checks a 2xx body and returns its vectors in input order.
func (o *OpenAI) decode(data []byte, n int) ([][]float32, error) {
	var r embeddingsResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: decode: %s", ErrBadResponse, o.redact(err.Error()))
	}
	if len(r.Data) != n {
		return nil, fmt.Errorf("%w: %d embeddings for %d inputs", ErrBadResponse, len(r.Data), n)
	}
	dim := o.cfg.Dim
	out := make([][]float32, n)
	backing := make([]float32, n*dim)
	for pos, d := range r.Data {
		i := pos
		if d.Index != nil {
			i = *d.Index
		}
		if i < 0 || i >= n || out[i] != nil {
			return nil, fmt.Errorf("%w: index %d out of range or repeated", ErrBadResponse, i)
		}
		if len(d.Embedding) != dim {
			return nil, fmt.Errorf("%w: embedding %d has dimension %d, want %d", ErrBadResponse, i, len(d.Embedding), dim)
		}
		v := backing[i*dim : (i+1)*dim : (i+1)*dim]
		for j, x := range d.Embedding {
			v[j] = float32(x)
		}
		if err := ValidateVector(v, dim); err != nil {
			return nil, fmt.Errorf("%w: embedding %d: %w", ErrBadResponse, i, err)
		}
		if !o.cfg.DisableNormalize {
			Normalize(v)
		}
		out[i] = v
	}
	return out, nil
}

// backoff draws the wait before retry number attempt (0-based).
func (o *OpenAI) backoff(attempt int) time.Duration {
	b := o.cfg.MaxBackoff
	if attempt < 62 && o.cfg.Backoff <= o.cfg.MaxBackoff>>attempt {
		b = o.cfg.Backoff << attempt
	}
	half := b / 2
	if half <= 0 {
		return b
	}
	return half + rand.N(b-half+1) // #nosec G404 -- retry jitter; not a secret
}

// redact removes the API key from s.
func (o *OpenAI) redact(s string) string {
	if o.cfg.APIKey == "" {
		return s
	}
	return strings.ReplaceAll(s, o.cfg.APIKey, "[redacted]")
}

// snippet is the start of an error body, redacted, for error messages.
func (o *OpenAI) snippet(data []byte) string {
	s := strings.ToValidUTF8(string(data), "?")
	s = strings.Join(strings.Fields(o.redact(s)), " ")
	if len(s) > maxErrorSnippet {
		s = strings.ToValidUTF8(s[:maxErrorSnippet], "") + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
// Missing, invalid or past values give 0.
func retryAfter(h string) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.ParseInt(h, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		if s > math.MaxInt64/int64(time.Second) {
			return math.MaxInt64
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

func ctxError(ctx context.Context) error {
	return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
