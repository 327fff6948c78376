package httpx_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/somafractalmemory/soma/internal/httpx"
)

type storeRequest struct {
	Coord   string         `json:"coord"`
	Payload map[string]any `json:"payload"`
	Weight  float64        `json:"weight"`
	Items   []struct {
		Count int `json:"count"`
	} `json:"items"`
	Strict strictValue `json:"strict"`
}

// strictValue refuses the string "bad", as a domain type would.
type strictValue string

func (s *strictValue) UnmarshalJSON(b []byte) error {
	if string(b) == `"bad"` {
		return errors.New("strict value must not be bad")
	}
	*s = strictValue(b)
	return nil
}

func bodyServer(t *testing.T) (*httpx.Server, *bool) {
	t.Helper()
	cfg := testConfig()
	cfg.MaxBodyBytes = 1024
	cfg.RouteMaxBodyBytes = map[string]int64{"/import": 4096}
	s := newServer(t, cfg, httpx.Deps{})
	reached := new(bool)
	bind := func(opts ...httpx.BindOption) gin.HandlerFunc {
		return func(c *gin.Context) {
			*reached = true
			var req storeRequest
			if !httpx.BindJSON(c, &req, opts...) {
				return
			}
			c.JSON(http.StatusOK, gin.H{"coord": req.Coord})
		}
	}
	s.API.POST("/store", bind())
	s.API.POST("/strict", bind(httpx.DisallowUnknownFields()))
	s.API.POST("/import", func(c *gin.Context) {
		*reached = true
		n, err := io.Copy(io.Discard, c.Request.Body)
		if err != nil {
			httpx.BodyError(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"read": n})
	})
	return s, reached
}

// unsized hides the length of a body, as a chunked upload does.
type unsized struct{ io.Reader }

func post(t *testing.T, h http.Handler, path, body string, chunked bool) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader = strings.NewReader(body)
	if chunked {
		r = unsized{r}
	}
	req := httptest.NewRequest(http.MethodPost, path, r)
	if chunked {
		req.ContentLength = -1
	}
	req.Header.Set("Content-Type", "application/json")
	return serve(h, req)
}

func bigJSON(n int) string {
	return `{"coord":"1,2","payload":{"text":"` + strings.Repeat("x", n) + `"}}`
}

func TestBodyLimit(t *testing.T) {
	t.Run("rejects_announced_length_before_reading", func(t *testing.T) {
		s, reached := bodyServer(t)
		req := httptest.NewRequest(http.MethodPost, "/store", strings.NewReader(`{"coord":"1"}`))
		req.ContentLength = 1 << 30
		assertJSON(t, serve(s, req), http.StatusRequestEntityTooLarge, `{"detail":"Request body too large"}`)
		if *reached {
			t.Fatal("the handler ran for a body announced over the limit")
		}
	})
	t.Run("rejects_oversized_body_with_content_length", func(t *testing.T) {
		s, _ := bodyServer(t)
		assertJSON(t, post(t, s, "/store", bigJSON(2000), false), http.StatusRequestEntityTooLarge, `{"detail":"Request body too large"}`)
	})
	t.Run("rejects_oversized_chunked_body_while_decoding", func(t *testing.T) {
		s, reached := bodyServer(t)
		assertJSON(t, post(t, s, "/store", bigJSON(2000), true), http.StatusRequestEntityTooLarge, `{"detail":"Request body too large"}`)
		if !*reached {
			t.Fatal("a chunked body can only be refused while reading")
		}
	})
	t.Run("rejects_oversized_chunked_body_read_by_handler", func(t *testing.T) {
		s, _ := bodyServer(t)
		assertJSON(t, post(t, s, "/import", strings.Repeat("y", 5000), true), http.StatusRequestEntityTooLarge, `{"detail":"Request body too large"}`)
	})
	t.Run("accepts_body_at_the_limit", func(t *testing.T) {
		s, _ := bodyServer(t)
		body := bigJSON(0)
		body = bigJSON(1024 - len(body))
		if len(body) != 1024 {
			t.Fatalf("test body is %d bytes", len(body))
		}
		assertJSON(t, post(t, s, "/store", body, true), http.StatusOK, `{"coord":"1,2"}`)
	})
	t.Run("route_override_allows_larger_bodies", func(t *testing.T) {
		s, _ := bodyServer(t)
		assertJSON(t, post(t, s, "/import", strings.Repeat("y", 3000), false), http.StatusOK, `{"read":3000}`)
		assertJSON(t, post(t, s, "/import", strings.Repeat("y", 5000), false), http.StatusRequestEntityTooLarge, `{"detail":"Request body too large"}`)
	})
}

func TestBindJSON(t *testing.T) {
	tests := []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"accepts_valid_body", "/store", `{"coord":"1,2","payload":{"a":1}}`, 200, `{"coord":"1,2"}`},
		{"accepts_trailing_whitespace", "/store", "{\"coord\":\"3\"}\n \n", 200, `{"coord":"3"}`},
		{"ignores_unknown_fields_by_default", "/store", `{"coord":"1","extra":true}`, 200, `{"coord":"1"}`},
		{"rejects_empty_body", "/store", ``, 422,
			`{"detail":[{"loc":["body"],"msg":"Field required","type":"missing"}]}`},
		{"rejects_malformed_json", "/store", `{"coord":}`, 422,
			`{"detail":[{"loc":["body",10],"msg":"JSON decode error: invalid character '}' looking for beginning of value","type":"json_invalid"}]}`},
		{"rejects_truncated_json", "/store", `{"coord":"1"`, 422,
			`{"detail":[{"loc":["body"],"msg":"JSON decode error: unexpected end of input","type":"json_invalid"}]}`},
		{"rejects_trailing_data", "/store", `{"coord":"1"} {"coord":"2"}`, 422,
			`{"detail":[{"loc":["body",27],"msg":"JSON decode error: data after the JSON value","type":"json_invalid"}]}`},
		{"rejects_wrong_type_with_field_loc", "/store", `{"coord":5}`, 422,
			`{"detail":[{"loc":["body","coord"],"msg":"Input should be a valid string","type":"string_type"}]}`},
		{"rejects_wrong_nested_type", "/store", `{"items":[{"count":"x"}]}`, 422,
			`{"detail":[{"loc":["body","items","count"],"msg":"Input should be a valid integer","type":"int_type"}]}`},
		{"rejects_non_object_body", "/store", `[1,2]`, 422,
			`{"detail":[{"loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","type":"model_attributes_type"}]}`},
		{"rejects_number_for_object", "/store", `{"payload":3}`, 422,
			`{"detail":[{"loc":["body","payload"],"msg":"Input should be a valid dictionary","type":"dict_type"}]}`},
		{"reports_unmarshaler_errors", "/store", `{"strict":"bad"}`, 422,
			`{"detail":[{"loc":["body"],"msg":"strict value must not be bad","type":"value_error"}]}`},
		{"strict_rejects_unknown_fields", "/strict", `{"coord":"1","extra":true}`, 422,
			`{"detail":[{"loc":["body","extra"],"msg":"Extra inputs are not permitted","type":"extra_forbidden"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := bodyServer(t)
			assertJSON(t, post(t, s, tt.path, tt.body, false), tt.status, tt.want)
		})
	}
}

func TestErrorShapes(t *testing.T) {
	s := newServer(t, testConfig(), httpx.Deps{})
	s.API.GET("/err", func(c *gin.Context) { httpx.Error(c, http.StatusNotFound, "memory not found") })
	s.API.GET("/validation", func(c *gin.Context) {
		httpx.ValidationError(c, []httpx.FieldError{
			{Loc: []any{"query", "top_k"}, Msg: "Input should be less than or equal to 1000", Type: "less_than_equal"},
			{Loc: []any{"body", "items", 3, "coord"}, Msg: "not a number", Type: "value_error"},
		})
	})
	s.API.GET("/empty-validation", func(c *gin.Context) { httpx.ValidationError(c, nil) })
	s.API.GET("/unavailable", func(c *gin.Context) {
		httpx.Unavailable(c, 1500*time.Millisecond, "projection behind")
	})

	assertJSON(t, do(t, s, http.MethodGet, "/err", nil), http.StatusNotFound, `{"detail":"memory not found"}`)
	assertJSON(t, do(t, s, http.MethodGet, "/validation", nil), http.StatusUnprocessableEntity,
		`{"detail":[{"loc":["query","top_k"],"msg":"Input should be less than or equal to 1000","type":"less_than_equal"},`+
			`{"loc":["body","items",3,"coord"],"msg":"not a number","type":"value_error"}]}`)
	assertJSON(t, do(t, s, http.MethodGet, "/empty-validation", nil), http.StatusUnprocessableEntity, `{"detail":[]}`)

	rec := do(t, s, http.MethodGet, "/unavailable", nil)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "2" {
		t.Fatalf("Unavailable: %d Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	var body map[string]any
	dec := json.NewDecoder(rec.Body)
	if err := dec.Decode(&body); err != nil || body["detail"] != "projection behind" {
		t.Fatalf("Unavailable body: %v %v", body, err)
	}
}
