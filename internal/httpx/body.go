package httpx

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/gin-gonic/gin"
)

// bodyLimit rejects a body announced (Content-Length) larger than the
// route's limit before reading anything, and caps every other body with
// http.MaxBytesReader so reading past the limit fails with
// *http.MaxBytesError (BindJSON and IsBodyTooLarge map it to 413).
func bodyLimit(def int64, perRoute map[string]int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		limit := def
		if n, ok := perRoute[c.FullPath()]; ok {
			limit = n
		}
		if c.Request.ContentLength > limit {
			// The body is left unread: do not keep the connection.
			c.Header("Connection", "close")
			Error(c, http.StatusRequestEntityTooLarge, DetailBodyTooLarge)
			return
		}
		if c.Request.Body != nil && c.Request.Body != http.NoBody {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		}
		c.Next()
	}
}

// IsBodyTooLarge reports whether err comes from reading a request body past
// its limit. Handlers that read bodies themselves (NDJSON import) answer
// such errors with Error(c, http.StatusRequestEntityTooLarge,
// DetailBodyTooLarge), or call BodyError.
func IsBodyTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// BodyError answers an error returned while reading the request body:
// 413 when over the limit, 400 otherwise.
func BodyError(c *gin.Context, err error) {
	if IsBodyTooLarge(err) {
		Error(c, http.StatusRequestEntityTooLarge, DetailBodyTooLarge)
		return
	}
	Error(c, http.StatusBadRequest, DetailInvalidRequestBody)
}

// BindOption changes how BindJSON decodes.
type BindOption func(*json.Decoder)

// DisallowUnknownFields makes BindJSON reject object keys that match no
// field (422 extra_forbidden). By default they are ignored, as FastAPI
// models do.
func DisallowUnknownFields() BindOption {
	return func(d *json.Decoder) { d.DisallowUnknownFields() }
}

// UseNumber decodes numbers into interface{} values as json.Number, so
// payload numbers keep their exact text.
func UseNumber() BindOption {
	return func(d *json.Decoder) { d.UseNumber() }
}

// BindJSON decodes the request body, exactly one JSON value, into v. On
// failure it writes the error response and returns false:
//
//   - body over the limit: 413 {"detail":"Request body too large"}
//   - empty body: 422 [{"loc":["body"],"type":"missing"}]
//   - malformed JSON or trailing data: 422 type "json_invalid"
//   - wrong JSON type: 422 at the field's loc, e.g. type "float_type"
//   - UnmarshalJSON error of a field type: 422 type "value_error" with its message
//   - connection error while reading: 400 {"detail":"Invalid request body"}
func BindJSON(c *gin.Context, v any, opts ...BindOption) bool {
	body := c.Request.Body
	if body == nil {
		body = http.NoBody
	}
	dec := json.NewDecoder(body)
	for _, o := range opts {
		o(dec)
	}
	if err := dec.Decode(v); err != nil {
		decodeError(c, err)
		return false
	}
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return true
	case err == nil:
		ValidationError(c, []FieldError{{
			Loc: []any{"body", dec.InputOffset()}, Msg: "JSON decode error: data after the JSON value", Type: "json_invalid",
		}})
	default:
		decodeError(c, err)
	}
	return false
}

func decodeError(c *gin.Context, err error) {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case IsBodyTooLarge(err):
		Error(c, http.StatusRequestEntityTooLarge, DetailBodyTooLarge)
	case errors.Is(err, io.EOF):
		ValidationError(c, []FieldError{{Loc: []any{"body"}, Msg: "Field required", Type: "missing"}})
	case errors.Is(err, io.ErrUnexpectedEOF):
		ValidationError(c, []FieldError{{Loc: []any{"body"}, Msg: "JSON decode error: unexpected end of input", Type: "json_invalid"}})
	case errors.As(err, &syntaxErr):
		ValidationError(c, []FieldError{{
			Loc: []any{"body", syntaxErr.Offset}, Msg: "JSON decode error: " + strings.TrimPrefix(syntaxErr.Error(), "json: "), Type: "json_invalid",
		}})
	case errors.As(err, &typeErr):
		ValidationError(c, []FieldError{typeFieldError(typeErr)})
	case strings.HasPrefix(err.Error(), `json: unknown field "`):
		name := strings.TrimSuffix(strings.TrimPrefix(err.Error(), `json: unknown field "`), `"`)
		ValidationError(c, []FieldError{{Loc: []any{"body", name}, Msg: "Extra inputs are not permitted", Type: "extra_forbidden"}})
	case isReadError(err):
		Error(c, http.StatusBadRequest, DetailInvalidRequestBody)
	default:
		// An UnmarshalJSON method of a field type refused the value.
		ValidationError(c, []FieldError{{Loc: []any{"body"}, Msg: err.Error(), Type: "value_error"}})
	}
}

// isReadError tells transport errors from decoding errors: encoding/json
// returns the reader's error unwrapped.
func isReadError(err error) bool {
	var netErr interface{ Timeout() bool }
	return errors.As(err, &netErr) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, http.ErrBodyReadAfterClose)
}

func typeFieldError(e *json.UnmarshalTypeError) FieldError {
	loc := []any{"body"}
	if e.Field != "" {
		for _, part := range strings.Split(e.Field, ".") {
			loc = append(loc, part)
		}
	}
	typ, msg := "type_error", "Input should be a valid "+e.Type.String()
	switch e.Type.Kind() {
	case reflect.String:
		typ, msg = "string_type", "Input should be a valid string"
	case reflect.Bool:
		typ, msg = "bool_type", "Input should be a valid boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		typ, msg = "int_type", "Input should be a valid integer"
	case reflect.Float32, reflect.Float64:
		typ, msg = "float_type", "Input should be a valid number"
	case reflect.Slice, reflect.Array:
		typ, msg = "list_type", "Input should be a valid list"
	case reflect.Map:
		typ, msg = "dict_type", "Input should be a valid dictionary"
	case reflect.Struct:
		typ, msg = "model_attributes_type", "Input should be a valid dictionary or object to extract fields from"
	}
	return FieldError{Loc: loc, Msg: msg, Type: typ}
}
