package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/internal/httpx"
	"github.com/somafractalmemory/soma/queries"
)

type handlers struct {
	app  *queries.Application
	opts Options
}

// caller reads the namespace and the consistency token: the
// X-Soma-Consistency-Token header, else the consistency_token query
// parameter. An invalid token answers 400.
func (h *handlers) caller(c *gin.Context) (queries.Caller, bool) {
	raw := c.GetHeader(consistency.Header)
	if raw == "" {
		raw = c.Query(consistency.QueryParam)
	}
	tok, err := consistency.Parse(raw)
	if err != nil {
		httpx.Error(c, http.StatusBadRequest, err.Error())
		return queries.Caller{}, false
	}
	return queries.Caller{Namespace: httpx.Namespace(c), Token: tok}, true
}

// intQuery reads an optional integer query parameter; absent or empty is
// def. A non-integer answers 422.
func intQuery(c *gin.Context, name string, def int) (int, bool) {
	s, ok := c.GetQuery(name)
	if !ok || s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		httpx.ValidationError(c, []httpx.FieldError{{
			Loc: []any{"query", name}, Msg: "Input should be a valid integer, unable to parse string as an integer", Type: "int_parsing",
		}})
		return 0, false
	}
	return n, true
}

// coordQuery reads a coordinate query parameter ("1,2,3"). A required one
// that is absent answers 422; an optional absent one is the empty
// coordinate; an unparsable one answers 400.
func coordQuery(c *gin.Context, name string, required bool) (domain.Coordinate, bool) {
	s, ok := c.GetQuery(name)
	if !ok {
		if required {
			missing(c, "query", name)
			return domain.Coordinate{}, false
		}
		return domain.Coordinate{}, true
	}
	co, err := domain.ParseCoordinate(s)
	if err != nil {
		httpx.Error(c, http.StatusBadRequest, fmt.Sprintf("%s: %v", name, err))
		return domain.Coordinate{}, false
	}
	return co, true
}

// coordsJSON renders coordinates as a list of number lists.
func coordsJSON(cs []domain.Coordinate) [][]float64 {
	out := make([][]float64, len(cs))
	for i, co := range cs {
		out[i] = co.Values()
	}
	return out
}

// records renders matches as client records.
func records(ms []queries.Match) []map[string]any {
	out := make([]map[string]any, len(ms))
	for i, m := range ms {
		out[i] = m.Memory.Record()
	}
	return out
}
