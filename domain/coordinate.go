package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxCoordinateDims is the largest number of dimensions a coordinate may
// have. Coordinates are addresses, not vectors: 64 leaves room for any
// hierarchical scheme while keeping keys and range scans small.
const MaxCoordinateDims = 64

// ErrInvalidCoordinate is wrapped by every coordinate validation error.
var ErrInvalidCoordinate = errors.New("invalid coordinate")

// CoordinateError reports why a coordinate was rejected.
type CoordinateError struct {
	Input  string // the request string (or formatted values)
	Part   string // the offending part, if any
	Reason string // "not a number", "not finite", "too many dimensions"
}

func (e *CoordinateError) Error() string {
	if e.Part != "" {
		return fmt.Sprintf("invalid coordinate %q: part %q is %s", e.Input, e.Part, e.Reason)
	}
	return fmt.Sprintf("invalid coordinate %q: %s", e.Input, e.Reason)
}

func (e *CoordinateError) Unwrap() error { return ErrInvalidCoordinate }

// Coordinate is an immutable tuple of finite float64 values of any length
// (zero allowed). The zero value is the empty coordinate.
type Coordinate struct {
	v []float64
}

// ParseCoordinate parses the request form "1, 2,3": the string is split on
// commas, parts are trimmed, empty parts are dropped, and each remaining
// part is parsed with strconv.ParseFloat (so "1e3" and "0x1p-2" are
// numbers). NaN, ±Inf, non-numbers and more than MaxCoordinateDims parts
// are rejected with a *CoordinateError.
func ParseCoordinate(s string) (Coordinate, error) {
	parts := strings.Split(s, ",")
	vals := make([]float64, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		f, err := strconv.ParseFloat(p, 64)
		if err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
				return Coordinate{}, &CoordinateError{Input: s, Part: p, Reason: "not finite"}
			}
			return Coordinate{}, &CoordinateError{Input: s, Part: p, Reason: "not a number"}
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return Coordinate{}, &CoordinateError{Input: s, Part: p, Reason: "not finite"}
		}
		if len(vals) == MaxCoordinateDims {
			return Coordinate{}, &CoordinateError{Input: s, Reason: fmt.Sprintf("more than %d dimensions", MaxCoordinateDims)}
		}
		vals = append(vals, f)
	}
	return Coordinate{v: canonical(vals)}, nil
}

// NewCoordinate validates values given as numbers (e.g. a JSON array).
func NewCoordinate(vals []float64) (Coordinate, error) {
	if len(vals) > MaxCoordinateDims {
		return Coordinate{}, &CoordinateError{Input: fmt.Sprint(vals), Reason: fmt.Sprintf("more than %d dimensions", MaxCoordinateDims)}
	}
	out := make([]float64, len(vals))
	for i, f := range vals {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return Coordinate{}, &CoordinateError{Input: fmt.Sprint(vals), Part: strconv.FormatFloat(f, 'g', -1, 64), Reason: "not finite"}
		}
		out[i] = f
	}
	return Coordinate{v: canonical(out)}, nil
}

// MustCoordinate is NewCoordinate for literals in tests and examples; it
// panics on invalid input.
func MustCoordinate(vals ...float64) Coordinate {
	c, err := NewCoordinate(vals)
	if err != nil {
		panic(err)
	}
	return c
}

// canonical folds -0 into 0 so that "-0" and "0" are one memory.
func canonical(vals []float64) []float64 {
	for i, f := range vals {
		if f == 0 {
			vals[i] = 0
		}
	}
	return vals
}

// Dims returns the number of dimensions.
func (c Coordinate) Dims() int { return len(c.v) }

// At returns dimension i.
func (c Coordinate) At(i int) float64 { return c.v[i] }

// Values returns a copy of the values.
func (c Coordinate) Values() []float64 {
	out := make([]float64, len(c.v))
	copy(out, c.v)
	return out
}

// Key is the canonical identity of the coordinate: the shortest decimal
// form of each float64 joined by commas ("9" and "9.0" both give "9",
// "1e3" gives "1000"). Parsing a key gives back an equal coordinate. Keys
// are stored in every read model: changing the format breaks them all.
func (c Coordinate) Key() string {
	var b strings.Builder
	for i, f := range c.v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	}
	return b.String()
}

// String is Key.
func (c Coordinate) String() string { return c.Key() }

// Equal reports whether both coordinates have the same values.
func (c Coordinate) Equal(o Coordinate) bool {
	if len(c.v) != len(o.v) {
		return false
	}
	for i := range c.v {
		if c.v[i] != o.v[i] {
			return false
		}
	}
	return true
}

// InRange reports whether c lies inside [lo, hi], both inclusive,
// comparing only the dimensions that c, lo and hi all have (the common
// prefix). An empty bound, or a bound shorter than c, constrains only the
// dimensions it has.
func (c Coordinate) InRange(lo, hi Coordinate) bool {
	for i := range min(len(c.v), len(lo.v)) {
		if c.v[i] < lo.v[i] {
			return false
		}
	}
	for i := range min(len(c.v), len(hi.v)) {
		if c.v[i] > hi.v[i] {
			return false
		}
	}
	return true
}

// MarshalJSON writes the coordinate as a JSON array of numbers; the empty
// coordinate is [].
func (c Coordinate) MarshalJSON() ([]byte, error) {
	if c.v == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(c.v)
}

// UnmarshalJSON accepts a JSON array of numbers ([1, 2.5]) or a string in
// the request form ("1, 2.5", parsed by ParseCoordinate). Anything else,
// including non-finite or out-of-range numbers and more than
// MaxCoordinateDims values, is a *CoordinateError. JSON null leaves c
// unchanged, as encoding/json does for other types.
func (c *Coordinate) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		return nil
	case len(data) > 0 && data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return &CoordinateError{Input: string(data), Reason: "not a JSON string"}
		}
		parsed, err := ParseCoordinate(s)
		if err != nil {
			return err
		}
		*c = parsed
		return nil
	case len(data) > 0 && data[0] == '[':
		var raw []json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			return &CoordinateError{Input: string(data), Reason: "not a JSON array"}
		}
		if len(raw) > MaxCoordinateDims {
			return &CoordinateError{Input: string(data), Reason: fmt.Sprintf("more than %d dimensions", MaxCoordinateDims)}
		}
		vals := make([]float64, len(raw))
		for i, r := range raw {
			r = bytes.TrimSpace(r)
			if len(r) == 0 || !(r[0] == '-' || (r[0] >= '0' && r[0] <= '9')) {
				return &CoordinateError{Input: string(data), Part: string(r), Reason: "not a number"}
			}
			f, err := strconv.ParseFloat(string(r), 64)
			if err != nil || math.IsInf(f, 0) {
				return &CoordinateError{Input: string(data), Part: string(r), Reason: "not finite"}
			}
			vals[i] = f
		}
		*c = Coordinate{v: canonical(vals)}
		return nil
	}
	return &CoordinateError{Input: string(data), Reason: "not an array of numbers or a string"}
}
