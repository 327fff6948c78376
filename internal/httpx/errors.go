package httpx

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// Error details on the wire. Clients match on these strings: changing one is
// a breaking change of the API.
const (
	DetailNotFound           = "Not Found"
	DetailMethodNotAllowed   = "Method Not Allowed"
	DetailInternal           = "Internal Server Error"
	DetailMissingBearer      = "Missing bearer token"
	DetailInvalidToken       = "Invalid token"
	DetailNamespaceForbidden = "Token not allowed for namespace"
	DetailRateLimited        = "Rate limit exceeded"
	DetailBodyTooLarge       = "Request body too large"
	DetailInvalidRequestBody = "Invalid request body"
)

// Header names on the wire.
const (
	HeaderNamespace     = "X-Soma-Namespace"
	HeaderRequestID     = "X-Request-ID"
	HeaderRetryAfter    = "Retry-After"
	HeaderAuthorization = "Authorization"

	bearerPrefix = "Bearer "
)

// ErrorBody is the shape of every error response except validation errors:
// {"detail": "message"}.
type ErrorBody struct {
	Detail string `json:"detail"`
}

// ValidationBody is the shape of 422 responses, as FastAPI writes them:
// {"detail": [{"loc": [...], "msg": ..., "type": ...}]}.
type ValidationBody struct {
	Detail []FieldError `json:"detail"`
}

// FieldError is one entry of a validation error. Loc is the path of the
// offending value: its first element says where ("body", "query",
// "header", "path"), then field names (strings) and list indexes (ints),
// e.g. []any{"body", "items", 3, "coord"}.
type FieldError struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// Error aborts the request with status and {"detail": msg}.
func Error(c *gin.Context, status int, msg string) {
	c.AbortWithStatusJSON(status, ErrorBody{Detail: msg})
}

// ValidationError aborts the request with 422 and the list of field errors.
// An empty list still answers 422 with an empty list.
func ValidationError(c *gin.Context, errs []FieldError) {
	if errs == nil {
		errs = []FieldError{}
	}
	c.AbortWithStatusJSON(http.StatusUnprocessableEntity, ValidationBody{Detail: errs})
}

// Unavailable aborts the request with 503, Retry-After (whole seconds,
// at least 1) and {"detail": msg}.
func Unavailable(c *gin.Context, retryAfter time.Duration, msg string) {
	setRetryAfter(c, retryAfter)
	Error(c, http.StatusServiceUnavailable, msg)
}

// setRetryAfter writes Retry-After as whole seconds rounded up, at least 1.
func setRetryAfter(c *gin.Context, d time.Duration) {
	c.Header(HeaderRetryAfter, strconv.FormatInt(retryAfterSeconds(d), 10))
}

func retryAfterSeconds(d time.Duration) int64 {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}
