package vectorindex

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Kind is the JSON kind of a value.
type Kind uint8

// Kinds of values. Their numbers are stored (MarshalFields):
// renumbering breaks stored fields.
const (
	KindNull   Kind = 1
	KindBool   Kind = 2
	KindNumber Kind = 3
	KindString Kind = 4
	// KindJSON is an array or object, held in canonical JSON form.
	KindJSON Kind = 5
)

// MaxCompositeBytes bounds the canonical JSON of an array or object kept
// as a field: larger ones are not kept (so a filter on them matches
// nothing), which bounds the memory a row's fields take.
const MaxCompositeBytes = 1024

// Value is a JSON value as filters compare it: null, a boolean, a number
// (as float64), a string, or an array or object in canonical JSON form
// (numbers as the shortest float64 text, object keys sorted), so that
// composites compare element by element with numbers compared
// numerically.
type Value struct {
	Kind Kind
	// Num is the number, or 1/0 for true/false.
	Num float64
	// Str is the string, or the canonical JSON of a composite.
	Str string
}

// Equal reports whether v and o are the same value: same kind, and for
// numbers the same numeric value (1 equals 1.0), for strings and booleans
// the same value, for arrays and objects the same elements in that sense
// (array order matters, object key order does not).
func (v Value) Equal(o Value) bool {
	if v.Kind != o.Kind {
		return false
	}
	switch v.Kind {
	case KindNumber, KindBool:
		return v.Num == o.Num
	case KindString, KindJSON:
		return v.Str == o.Str
	}
	return true
}

// ValueOf returns the value of a decoded JSON value (as encoding/json
// decodes into any, with or without UseNumber) or a Go scalar: nil, bool,
// string, json.Number, float32/64, the integer types, []any and
// map[string]any. ok is false for anything else, for NaN and infinite
// numbers, and for composites whose canonical form is longer than
// MaxCompositeBytes.
func ValueOf(x any) (v Value, ok bool) {
	switch x := x.(type) {
	case []any, map[string]any:
		c, ok := canonical(x)
		if !ok {
			return Value{}, false
		}
		b, err := json.Marshal(c)
		if err != nil || len(b) > MaxCompositeBytes {
			return Value{}, false
		}
		return Value{Kind: KindJSON, Str: string(b)}, true
	case nil:
		return Value{Kind: KindNull}, true
	case bool:
		if x {
			return Value{Kind: KindBool, Num: 1}, true
		}
		return Value{Kind: KindBool}, true
	case string:
		return Value{Kind: KindString, Str: x}, true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return Value{}, false
		}
		return number(f)
	case float64:
		return number(x)
	case float32:
		return number(float64(x))
	case int:
		return number(float64(x))
	case int8:
		return number(float64(x))
	case int16:
		return number(float64(x))
	case int32:
		return number(float64(x))
	case int64:
		return number(float64(x))
	case uint:
		return number(float64(x))
	case uint8:
		return number(float64(x))
	case uint16:
		return number(float64(x))
	case uint32:
		return number(float64(x))
	case uint64:
		return number(float64(x))
	}
	return Value{}, false
}

func number(f float64) (Value, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Value{}, false
	}
	return Value{Kind: KindNumber, Num: f}, true
}

// canonical rewrites a composite for comparison: every number becomes its
// float64 value. ok is false when it holds something ValueOf refuses.
func canonical(x any) (any, bool) {
	switch x := x.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, ok := canonical(e)
			if !ok {
				return nil, false
			}
			out[i] = c
		}
		return out, true
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, ok := canonical(e)
			if !ok {
				return nil, false
			}
			out[k] = c
		}
		return out, true
	case nil, bool, string:
		return x, true
	}
	v, ok := ValueOf(x)
	if !ok || v.Kind != KindNumber {
		return nil, false
	}
	return v.Num, true
}

// Field is a named value.
type Field struct {
	Name  string
	Value Value
}

// Fields are sorted by Name, names unique.
type Fields []Field

// PayloadFields returns the top-level fields of a decoded payload that
// filters can match (see ValueOf), sorted by name.
func PayloadFields(payload map[string]any) Fields {
	var out Fields
	for k, x := range payload {
		if v, ok := ValueOf(x); ok {
			out = append(out, Field{Name: k, Value: v})
		}
	}
	slices.SortFunc(out, func(a, b Field) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Get returns the value of name.
func (fs Fields) Get(name string) (Value, bool) {
	i, ok := slices.BinarySearchFunc(fs, name, func(f Field, n string) int { return cmp.Compare(f.Name, n) })
	if !ok {
		return Value{}, false
	}
	return fs[i].Value, true
}

// With returns a copy of fs with name set to v.
func (fs Fields) With(name string, v Value) Fields {
	out := make(Fields, 0, len(fs)+1)
	i, found := slices.BinarySearchFunc(fs, name, func(f Field, n string) int { return cmp.Compare(f.Name, n) })
	out = append(out, fs[:i]...)
	out = append(out, Field{Name: name, Value: v})
	if found {
		i++
	}
	return append(out, fs[i:]...)
}

// matches reports whether every filter (sorted, unique) holds in fs.
func (fs Fields) matches(filters Fields) bool {
	j := 0
	for _, f := range filters {
		for j < len(fs) && fs[j].Name < f.Name {
			j++
		}
		if j == len(fs) || fs[j].Name != f.Name || !fs[j].Value.Equal(f.Value) {
			return false
		}
		j++
	}
	return true
}

// compileFilters turns query filters into sorted fields; ok is false when
// a filter value cannot be held by a row (no row can match it).
func compileFilters(m map[string]any) (Fields, bool) {
	if len(m) == 0 {
		return nil, true
	}
	out := make(Fields, 0, len(m))
	for k, x := range m {
		v, ok := ValueOf(x)
		if !ok {
			return nil, false
		}
		out = append(out, Field{Name: k, Value: v})
	}
	slices.SortFunc(out, func(a, b Field) int { return cmp.Compare(a.Name, b.Name) })
	return out, true
}

// fieldsVersion prefixes MarshalFields output.
const fieldsVersion = 1

// MarshalFields encodes fields compactly, for storage beside a vector:
// a version byte, the count, then per field its name, kind and value
// (numbers as float64 bits, strings and composites length-prefixed).
func MarshalFields(fs Fields) []byte {
	b := make([]byte, 0, 2+len(fs)*16)
	b = append(b, fieldsVersion)
	b = binary.AppendUvarint(b, uint64(len(fs)))
	for _, f := range fs {
		b = binary.AppendUvarint(b, uint64(len(f.Name)))
		b = append(b, f.Name...)
		b = append(b, byte(f.Value.Kind))
		switch f.Value.Kind {
		case KindBool:
			b = append(b, byte(f.Value.Num))
		case KindNumber:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f.Value.Num))
		case KindString, KindJSON:
			b = binary.AppendUvarint(b, uint64(len(f.Value.Str)))
			b = append(b, f.Value.Str...)
		}
	}
	return b
}

var errFieldsCorrupt = errors.New("vectorindex: corrupt fields encoding")

// UnmarshalFields decodes MarshalFields output. Empty input is no fields.
func UnmarshalFields(b []byte) (Fields, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] != fieldsVersion {
		return nil, fmt.Errorf("%w: version %d", errFieldsCorrupt, b[0])
	}
	b = b[1:]
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return nil, errFieldsCorrupt
	}
	b = b[w:]
	if n == 0 {
		return nil, nil
	}
	out := make(Fields, 0, n)
	str := func() (string, bool) {
		l, w := binary.Uvarint(b)
		if w <= 0 || l > uint64(len(b)-w) { // #nosec G115 -- 0 < w ≤ len(b) once w > 0 is known
			return "", false
		}
		end := w + int(l) // #nosec G115 -- l ≤ len(b)-w, so it fits an int
		s := string(b[w:end])
		b = b[end:]
		return s, true
	}
	for range n {
		name, ok := str()
		if !ok || len(b) == 0 {
			return nil, errFieldsCorrupt
		}
		v := Value{Kind: Kind(b[0])}
		b = b[1:]
		switch v.Kind {
		case KindNull:
		case KindBool:
			if len(b) < 1 {
				return nil, errFieldsCorrupt
			}
			v.Num = float64(b[0])
			b = b[1:]
		case KindNumber:
			if len(b) < 8 {
				return nil, errFieldsCorrupt
			}
			v.Num = math.Float64frombits(binary.LittleEndian.Uint64(b))
			b = b[8:]
		case KindString, KindJSON:
			if v.Str, ok = str(); !ok {
				return nil, errFieldsCorrupt
			}
		default:
			return nil, fmt.Errorf("%w: kind %d", errFieldsCorrupt, v.Kind)
		}
		out = append(out, Field{Name: name, Value: v})
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: trailing bytes", errFieldsCorrupt)
	}
	return out, nil
}
