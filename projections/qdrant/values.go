package qdrant

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	qc "github.com/qdrant/go-client/qdrant"
)

// toValue converts a JSON-like Go value (as domain.Memory.Record returns
// it: json.Number, float64, string, bool, nil, []float64, []any,
// map[string]any) to a Qdrant payload value. A json.Number that is an
// integer becomes an integer value, any other number a double, as Qdrant
// stores JSON numbers; so a recall filter must compare numbers with a
// range (gte = lte = n), which matches both.
func toValue(v any) (*qc.Value, error) {
	switch v := v.(type) {
	case nil:
		return qc.NewValueNull(), nil
	case bool:
		return qc.NewValueBool(v), nil
	case string:
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("string %q is not valid UTF-8", v)
		}
		return qc.NewValueString(v), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return qc.NewValueInt(i), nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s is not a finite float64", v)
		}
		return qc.NewValueDouble(f), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("number %v is not finite", v)
		}
		return qc.NewValueDouble(v), nil
	case int:
		return qc.NewValueInt(int64(v)), nil
	case int64:
		return qc.NewValueInt(v), nil
	case []float64:
		vals := make([]*qc.Value, len(v))
		for i, f := range v {
			vals[i] = qc.NewValueDouble(f)
		}
		return qc.NewValueFromList(vals...), nil
	case []any:
		vals := make([]*qc.Value, len(v))
		for i, e := range v {
			ev, err := toValue(e)
			if err != nil {
				return nil, err
			}
			vals[i] = ev
		}
		return qc.NewValueFromList(vals...), nil
	case map[string]any:
		fields, err := toFields(v)
		if err != nil {
			return nil, err
		}
		return qc.NewValueFromFields(fields), nil
	}
	return nil, fmt.Errorf("unsupported payload value of type %T", v)
}

func toFields(m map[string]any) (map[string]*qc.Value, error) {
	out := make(map[string]*qc.Value, len(m))
	for k, v := range m {
		if !utf8.ValidString(k) {
			return nil, fmt.Errorf("key %q is not valid UTF-8", k)
		}
		qv, err := toValue(v)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		out[k] = qv
	}
	return out, nil
}

// fromValue converts a Qdrant payload value back to a JSON-like Go value:
// integers as json.Number, doubles as float64.
func fromValue(v *qc.Value) any {
	switch k := v.GetKind().(type) {
	case *qc.Value_BoolValue:
		return k.BoolValue
	case *qc.Value_StringValue:
		return k.StringValue
	case *qc.Value_IntegerValue:
		return json.Number(strconv.FormatInt(k.IntegerValue, 10))
	case *qc.Value_DoubleValue:
		return k.DoubleValue
	case *qc.Value_ListValue:
		out := make([]any, len(k.ListValue.GetValues()))
		for i, e := range k.ListValue.GetValues() {
			out[i] = fromValue(e)
		}
		return out
	case *qc.Value_StructValue:
		return fromFields(k.StructValue.GetFields())
	}
	return nil
}

func fromFields(m map[string]*qc.Value) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = fromValue(v)
	}
	return out
}

// number reads a numeric payload value.
func number(v *qc.Value) (float64, bool) {
	switch k := v.GetKind().(type) {
	case *qc.Value_IntegerValue:
		return float64(k.IntegerValue), true
	case *qc.Value_DoubleValue:
		return k.DoubleValue, true
	}
	return 0, false
}
