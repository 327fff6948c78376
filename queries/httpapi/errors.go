package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/embedding"
	"github.com/somafractalmemory/soma/internal/httpx"
	"github.com/somafractalmemory/soma/queries"
)

// Error details on the wire.
const (
	// DetailEmbedding answers 502 when the embedding service answered
	// with something unusable or refused the request.
	DetailEmbedding = "Embedding service error"
	// statusClientClosed is logged when the client went away mid-query.
	statusClientClosed = 499
)

// LagBody is the 503 answer when a consistency token was not applied in
// time: {"detail": ..., "lagging": [...]}.
type LagBody struct {
	Detail  string     `json:"detail"`
	Lagging []LagEntry `json:"lagging"`
	// Source is the log the token's positions refer to.
	Source string `json:"source"`
	// TimeoutSeconds is how long the query waited.
	TimeoutSeconds float64 `json:"timeout_seconds"`
}

// LagEntry is one read model partition still behind, or a read model
// whose positions could not be read (Error set, no partition).
type LagEntry struct {
	ReadModel string `json:"read_model"`
	Partition *int32 `json:"partition,omitempty"`
	Want      *int64 `json:"want,omitempty"`
	Applied   *int64 `json:"applied,omitempty"`
	Error     string `json:"error,omitempty"`
}

// locator says where a request field came from: "body" or "query".
type locator func(field string) string

func inBody(string) string  { return "body" }
func inQuery(string) string { return "query" }

// fail maps a query error to its HTTP answer.
func (h *handlers) fail(c *gin.Context, err error, where locator) {
	var (
		ve  domain.ValidationErrors
		lag *queries.LagError
	)
	switch {
	case errors.As(err, &ve):
		httpx.ValidationError(c, fieldErrors(ve, where))
	case errors.As(err, &lag):
		h.lagging(c, lag)
	case errors.Is(err, domain.ErrInvalidCoordinate):
		httpx.Error(c, http.StatusBadRequest, err.Error())
	case errors.Is(err, domain.ErrMemoryNotFound):
		httpx.Error(c, http.StatusNotFound, err.Error())
	case errors.Is(err, queries.ErrModelMismatch):
		httpx.Error(c, http.StatusConflict, "The vector index was built by another embedding model than the query's: "+err.Error())
	case errors.Is(err, queries.ErrSearchLimit):
		httpx.ValidationError(c, []httpx.FieldError{{Loc: []any{"query", "to"}, Msg: err.Error(), Type: "search_limit"}})
	case errors.Is(err, queries.ErrNotConfigured):
		httpx.Error(c, http.StatusNotImplemented, err.Error())
	case errors.Is(err, queries.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		_ = c.Error(err)
		httpx.Unavailable(c, h.opts.RetryAfter, err.Error())
	case errors.Is(err, embedding.ErrBadResponse), errors.Is(err, embedding.ErrRejected):
		_ = c.Error(err)
		httpx.Error(c, http.StatusBadGateway, DetailEmbedding)
	case errors.Is(err, context.Canceled):
		// The client is gone; nobody reads this answer.
		c.AbortWithStatus(statusClientClosed)
	default:
		_ = c.Error(err)
		httpx.Error(c, http.StatusInternalServerError, httpx.DetailInternal)
	}
}

// lagging answers 503 with Retry-After and the read models still behind.
func (h *handlers) lagging(c *gin.Context, e *queries.LagError) {
	body := LagBody{Lagging: make([]LagEntry, 0, len(e.Lagging)), Source: e.Source, TimeoutSeconds: e.Timeout.Seconds()}
	var names []string
	for _, l := range e.Lagging {
		if len(names) == 0 || names[len(names)-1] != l.ReadModel {
			names = append(names, l.ReadModel)
		}
		if l.Err != nil {
			_ = c.Error(fmt.Errorf("positions of %s: %w", l.ReadModel, l.Err))
			body.Lagging = append(body.Lagging, LagEntry{ReadModel: l.ReadModel, Error: "positions unavailable"})
			continue
		}
		p, want, applied := l.Partition, l.Want, l.Applied
		body.Lagging = append(body.Lagging, LagEntry{ReadModel: l.ReadModel, Partition: &p, Want: &want, Applied: &applied})
	}
	body.Detail = fmt.Sprintf("Read models have not applied the consistency token within %s: %s; retry later", e.Timeout, strings.Join(names, ", "))
	c.Header(httpx.HeaderRetryAfter, strconv.FormatInt(max(1, int64(math.Ceil(h.opts.LagRetryAfter.Seconds()))), 10))
	c.AbortWithStatusJSON(http.StatusServiceUnavailable, body)
}

// fieldErrors turns validation errors into FastAPI-style entries: field
// "filters.team" of the body is loc ["body", "filters", "team"].
func fieldErrors(ve domain.ValidationErrors, where locator) []httpx.FieldError {
	out := make([]httpx.FieldError, 0, len(ve))
	for _, v := range ve {
		loc := []any{where(v.Field)}
		if name, rest, ok := strings.Cut(v.Field, "."); ok {
			loc = append(loc, name, rest)
		} else {
			loc = append(loc, v.Field)
		}
		out = append(out, httpx.FieldError{Loc: loc, Msg: v.Message, Type: "value_error"})
	}
	return out
}

// missing answers 422 for required fields that are absent.
func missing(c *gin.Context, where string, fields ...string) {
	errs := make([]httpx.FieldError, len(fields))
	for i, f := range fields {
		errs[i] = httpx.FieldError{Loc: []any{where, f}, Msg: "Field required", Type: "missing"}
	}
	httpx.ValidationError(c, errs)
}
