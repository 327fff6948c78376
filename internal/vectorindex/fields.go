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

// Kind is the JSON kind of a scalar value.
type Kind uint8

// Kinds of scalar values. Their numbers are stored (MarshalFields):
// renumbering breaks stored fields.
const (
	KindNull   Kind = 1
	KindBool   Kind = 2
	KindNumber Kind = 3
	KindString Kind = 4
)

// Value is a scalar JSON value: null, a boolean, a number (as float64) or
// a string.
type Value struct {
	Kind Kind
	// Num is the number, or 1/0 for true/false.
	Num float64
	Str string
}

// Equal reports whether v and o are the same scalar: same kind, and for
// numbers the same numeric value (1 equals 1.0), for strings and booleans
// the same value.
func (v Value) Equal(o Value) bool {
	if v.Kind != o.Kind {
		return false
	}
	switch v.Kind {
	case KindNumber, KindBool:
		return v.Num == o.Num
	case KindString:
		return v.Str == o.Str
	}
	return true
}

// ScalarOf returns the scalar value of a decoded JSON value or a Go
// scalar: nil, bool, string, json.Number, float32/64 and the integer
// types. ok is false for anything else (objects, arrays, NaN).
func ScalarOf(x any) (v Value, ok bool) {
	switch x := x.(type) {
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
	if math.IsNaN(f) {
		return Value{}, false
	}
	return Value{Kind: KindNumber, Num: f}, true
}

// Field is a named scalar.
type Field struct {
	Name  string
	Value Value
}

// Fields are sorted by Name, names unique.
type Fields []Field

// ScalarFields keeps the top-level scalar fields of a decoded payload,
// sorted by name. Objects and arrays are dropped.
func ScalarFields(payload map[string]any) Fields {
	var out Fields
	for k, x := range payload {
		if v, ok := ScalarOf(x); ok {
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
// a filter value is not a scalar (no row can match it).
func compileFilters(m map[string]any) (Fields, bool) {
	if len(m) == 0 {
		return nil, true
	}
	out := make(Fields, 0, len(m))
	for k, x := range m {
		v, ok := ScalarOf(x)
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
// (numbers as float64 bits, strings length-prefixed).
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
		case KindString:
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
		if w <= 0 || l > uint64(len(b)-w) {
			return "", false
		}
		s := string(b[w : w+int(l)])
		b = b[w+int(l):]
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
		case KindString:
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
