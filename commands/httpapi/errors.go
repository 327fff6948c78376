package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/httpx"
)

// fail maps a command error to its HTTP answer.
func (h *handlers) fail(c *gin.Context, err error) {
	var ve domain.ValidationErrors
	switch {
	case errors.As(err, &ve):
		httpx.ValidationError(c, fieldErrors(ve))
	case errors.Is(err, domain.ErrInvalidCoordinate):
		httpx.Error(c, http.StatusBadRequest, err.Error())
	case errors.Is(err, domain.ErrMemoryNotFound):
		httpx.Error(c, http.StatusNotFound, err.Error())
	case errors.Is(err, commands.ErrUnavailable):
		httpx.Unavailable(c, h.opts.RetryAfter, err.Error())
	case errors.Is(err, commands.ErrBadGateway):
		httpx.Error(c, http.StatusBadGateway, err.Error())
	default:
		_ = c.Error(err)
		httpx.Error(c, http.StatusInternalServerError, httpx.DetailInternal)
	}
}

// fieldErrors turns domain validation errors into FastAPI-style entries.
// Field paths like "items[3].payload.importance" or "line 7" become
// loc ["body","items",3,"payload","importance"] and ["body","line",7].
func fieldErrors(ve domain.ValidationErrors) []httpx.FieldError {
	out := make([]httpx.FieldError, 0, len(ve))
	for _, v := range ve {
		out = append(out, httpx.FieldError{Loc: loc(v.Field), Msg: v.Message, Type: "value_error"})
	}
	return out
}

func loc(field string) []any {
	out := []any{"body"}
	if rest, ok := strings.CutPrefix(field, "line "); ok {
		if n, err := strconv.Atoi(rest); err == nil {
			return append(out, "line", n)
		}
	}
	for _, part := range strings.Split(field, ".") {
		name, idx, hasIdx := strings.Cut(part, "[")
		if name != "" {
			out = append(out, name)
		}
		if hasIdx {
			if n, err := strconv.Atoi(strings.TrimSuffix(idx, "]")); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// badCoordinate answers 400 for an unparsable coordinate of a field.
func badCoordinate(c *gin.Context, field string, err error) {
	httpx.Error(c, http.StatusBadRequest, fmt.Sprintf("%s: %v", field, err))
}

// missing answers 422 for required fields that are absent.
func missing(c *gin.Context, fields ...string) {
	errs := make([]httpx.FieldError, len(fields))
	for i, f := range fields {
		errs[i] = httpx.FieldError{Loc: loc(f), Msg: "Field required", Type: "missing"}
	}
	httpx.ValidationError(c, errs)
}
