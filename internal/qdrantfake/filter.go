package qdrantfake

import (
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// pathItem is one step of a Qdrant JSON path: a key, an index ([3]) or a
// wildcard ([]).
type pathItem struct {
	key      string
	index    int
	isIndex  bool
	wildcard bool
}

// parsePath parses Qdrant's JSON path syntax: a first key, then any of
// .key, ."quoted key", [n] and []. Raw keys are letters, digits, '_' and
// '-'; quoted keys cannot contain '"' or '\'.
func parsePath(s string) ([]pathItem, error) {
	bad := func() ([]pathItem, error) {
		return nil, status.Errorf(codes.InvalidArgument, "Wrong input: Invalid JSON path %q", s)
	}
	var items []pathItem
	rest := s
	first := true
	for rest != "" || first {
		switch {
		case first || rest[0] == '.':
			if !first {
				rest = rest[1:]
			}
			first = false
			key, n, ok := pathKey(rest)
			if !ok {
				return bad()
			}
			items = append(items, pathItem{key: key})
			rest = rest[n:]
		case strings.HasPrefix(rest, "[]"):
			items = append(items, pathItem{wildcard: true})
			rest = rest[2:]
		case rest[0] == '[':
			end := strings.IndexByte(rest, ']')
			if end < 2 {
				return bad()
			}
			digits := rest[1:end]
			if strings.TrimLeft(digits, "0123456789") != "" {
				return bad()
			}
			i, err := strconv.Atoi(digits)
			if err != nil {
				return bad()
			}
			items = append(items, pathItem{index: i, isIndex: true})
			rest = rest[end+1:]
		default:
			return bad()
		}
	}
	return items, nil
}

// pathKey reads a raw or quoted key at the start of s and returns it with
// the number of bytes consumed.
func pathKey(s string) (string, int, bool) {
	if strings.HasPrefix(s, `"`) {
		end := strings.IndexAny(s[1:], `"\`)
		if end < 0 || s[1+end] != '"' {
			return "", 0, false
		}
		return s[1 : 1+end], end + 2, true
	}
	n := 0
	for i, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-') {
			break
		}
		n = i + len(string(r))
	}
	if n == 0 {
		return "", 0, false
	}
	return s[:n], n, true
}

// valuesAt returns the values a path selects, as Qdrant does: keys descend
// into objects only, [n] and [] into arrays only; a leaf array is returned
// as one value.
func valuesAt(payload map[string]*qdrant.Value, path []pathItem) []*qdrant.Value {
	v, ok := payload[path[0].key]
	if !ok {
		return nil
	}
	var out []*qdrant.Value
	var walk func(rest []pathItem, v *qdrant.Value)
	walk = func(rest []pathItem, v *qdrant.Value) {
		if len(rest) == 0 {
			out = append(out, v)
			return
		}
		head := rest[0]
		switch {
		case head.wildcard:
			for _, e := range v.GetListValue().GetValues() {
				walk(rest[1:], e)
			}
		case head.isIndex:
			if l := v.GetListValue(); l != nil && head.index < len(l.GetValues()) {
				walk(rest[1:], l.GetValues()[head.index])
			}
		default:
			if st := v.GetStructValue(); st != nil {
				if next, ok := st.GetFields()[head.key]; ok {
					walk(rest[1:], next)
				}
			}
		}
	}
	walk(path[1:], v)
	return out
}

// predicate decides whether a point matches.
type predicate func(p *point) bool

// compileFilter turns a filter into a predicate, rejecting what the double
// does not implement with codes.Unimplemented. A nil filter matches all.
func compileFilter(f *qdrant.Filter) (predicate, error) {
	if f == nil {
		return func(*point) bool { return true }, nil
	}
	must, err := compileConditions(f.GetMust())
	if err != nil {
		return nil, err
	}
	should, err := compileConditions(f.GetShould())
	if err != nil {
		return nil, err
	}
	mustNot, err := compileConditions(f.GetMustNot())
	if err != nil {
		return nil, err
	}
	var minShould []predicate
	minCount := uint64(0)
	if ms := f.GetMinShould(); ms != nil {
		if minShould, err = compileConditions(ms.GetConditions()); err != nil {
			return nil, err
		}
		minCount = ms.GetMinCount()
	}
	return func(p *point) bool {
		for _, c := range must {
			if !c(p) {
				return false
			}
		}
		for _, c := range mustNot {
			if c(p) {
				return false
			}
		}
		if len(should) > 0 && !slices.ContainsFunc(should, func(c predicate) bool { return c(p) }) {
			return false
		}
		if f.GetMinShould() != nil {
			n := uint64(0)
			for _, c := range minShould {
				if c(p) {
					n++
				}
			}
			if n < minCount {
				return false
			}
		}
		return true
	}, nil
}

func compileConditions(conds []*qdrant.Condition) ([]predicate, error) {
	out := make([]predicate, 0, len(conds))
	for _, c := range conds {
		pred, err := compileCondition(c)
		if err != nil {
			return nil, err
		}
		out = append(out, pred)
	}
	return out, nil
}

func compileCondition(c *qdrant.Condition) (predicate, error) {
	switch v := c.GetConditionOneOf().(type) {
	case *qdrant.Condition_Field:
		return compileField(v.Field)
	case *qdrant.Condition_Filter:
		return compileFilter(v.Filter)
	case *qdrant.Condition_HasId:
		ids := map[pointKey]bool{}
		for _, id := range v.HasId.GetHasId() {
			k, err := parsePointID(id)
			if err != nil {
				return nil, err
			}
			ids[k] = true
		}
		return func(p *point) bool { return ids[p.id] }, nil
	case *qdrant.Condition_IsEmpty:
		path, err := parsePath(v.IsEmpty.GetKey())
		if err != nil {
			return nil, err
		}
		return func(p *point) bool {
			for _, val := range valuesAt(p.payload, path) {
				if !isNullValue(val) && !(val.GetListValue() != nil && len(val.GetListValue().GetValues()) == 0) {
					return false
				}
			}
			return true
		}, nil
	case *qdrant.Condition_IsNull:
		path, err := parsePath(v.IsNull.GetKey())
		if err != nil {
			return nil, err
		}
		return func(p *point) bool {
			return slices.ContainsFunc(valuesAt(p.payload, path), isNullValue)
		}, nil
	case nil:
		return nil, status.Error(codes.InvalidArgument, "Wrong input: empty condition")
	}
	return nil, status.Errorf(codes.Unimplemented, "qdrantfake: condition %T not implemented", c.GetConditionOneOf())
}

func isNullValue(v *qdrant.Value) bool {
	_, ok := v.GetKind().(*qdrant.Value_NullValue)
	return ok
}

// valueCheck decides whether one (non-array) value satisfies a condition.
type valueCheck func(v *qdrant.Value) bool

func compileField(fc *qdrant.FieldCondition) (predicate, error) {
	path, err := parsePath(fc.GetKey())
	if err != nil {
		return nil, err
	}
	if fc.GetGeoBoundingBox() != nil || fc.GetGeoRadius() != nil || fc.GetGeoPolygon() != nil ||
		fc.GetValuesCount() != nil || fc.GetDatetimeRange() != nil || fc.IsEmpty != nil || fc.IsNull != nil {
		return nil, status.Errorf(codes.Unimplemented, "qdrantfake: field condition on %q: only match and range are implemented", fc.GetKey())
	}
	var checks []valueCheck
	if m := fc.GetMatch(); m != nil {
		check, err := compileMatch(m)
		if err != nil {
			return nil, err
		}
		checks = append(checks, check)
	}
	if r := fc.GetRange(); r != nil {
		checks = append(checks, func(v *qdrant.Value) bool {
			f, ok := number(v)
			if !ok {
				return false
			}
			return (r.Lt == nil || f < r.GetLt()) && (r.Gt == nil || f > r.GetGt()) &&
				(r.Lte == nil || f <= r.GetLte()) && (r.Gte == nil || f >= r.GetGte())
		})
	}
	if len(checks) == 0 {
		return nil, status.Errorf(codes.InvalidArgument, "Wrong input: field condition on %q has no condition", fc.GetKey())
	}
	one := func(v *qdrant.Value) bool {
		for _, c := range checks {
			if c(v) {
				return true
			}
		}
		return false
	}
	return func(p *point) bool {
		for _, v := range valuesAt(p.payload, path) {
			if l := v.GetListValue(); l != nil {
				if slices.ContainsFunc(l.GetValues(), one) {
					return true
				}
				continue
			}
			if one(v) {
				return true
			}
		}
		return false
	}, nil
}

func compileMatch(m *qdrant.Match) (valueCheck, error) {
	switch mv := m.GetMatchValue().(type) {
	case *qdrant.Match_Keyword:
		return func(v *qdrant.Value) bool {
			s, ok := v.GetKind().(*qdrant.Value_StringValue)
			return ok && s.StringValue == mv.Keyword
		}, nil
	case *qdrant.Match_Integer:
		return func(v *qdrant.Value) bool {
			i, ok := v.GetKind().(*qdrant.Value_IntegerValue)
			return ok && i.IntegerValue == mv.Integer
		}, nil
	case *qdrant.Match_Boolean:
		return func(v *qdrant.Value) bool {
			b, ok := v.GetKind().(*qdrant.Value_BoolValue)
			return ok && b.BoolValue == mv.Boolean
		}, nil
	case *qdrant.Match_Keywords:
		set := mv.Keywords.GetStrings()
		return func(v *qdrant.Value) bool {
			s, ok := v.GetKind().(*qdrant.Value_StringValue)
			return ok && slices.Contains(set, s.StringValue)
		}, nil
	case *qdrant.Match_Integers:
		set := mv.Integers.GetIntegers()
		return func(v *qdrant.Value) bool {
			i, ok := v.GetKind().(*qdrant.Value_IntegerValue)
			return ok && slices.Contains(set, i.IntegerValue)
		}, nil
	case *qdrant.Match_ExceptKeywords:
		set := mv.ExceptKeywords.GetStrings()
		return func(v *qdrant.Value) bool {
			switch k := v.GetKind().(type) {
			case *qdrant.Value_StringValue:
				return !slices.Contains(set, k.StringValue)
			case *qdrant.Value_NullValue:
				return false
			}
			return true
		}, nil
	case *qdrant.Match_ExceptIntegers:
		set := mv.ExceptIntegers.GetIntegers()
		return func(v *qdrant.Value) bool {
			switch k := v.GetKind().(type) {
			case *qdrant.Value_IntegerValue:
				return !slices.Contains(set, k.IntegerValue)
			case *qdrant.Value_NullValue:
				return false
			}
			return true
		}, nil
	case nil:
		return nil, status.Error(codes.InvalidArgument, "Wrong input: empty match")
	}
	return nil, status.Errorf(codes.Unimplemented, "qdrantfake: match %T not implemented (needs a full-text index)", m.GetMatchValue())
}

func number(v *qdrant.Value) (float64, bool) {
	switch k := v.GetKind().(type) {
	case *qdrant.Value_IntegerValue:
		return float64(k.IntegerValue), true
	case *qdrant.Value_DoubleValue:
		return k.DoubleValue, true
	}
	return 0, false
}
