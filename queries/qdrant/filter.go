package qdrant

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/somafractalmemory/soma/domain"
	projqdrant "github.com/somafractalmemory/soma/projections/qdrant"
)

// kind is the JSON kind of a filter value.
type kind int

const (
	kindNull kind = iota + 1
	kindBool
	kindString
	kindNumber
	kindArray
	kindObject
)

// value is a filter value in canonical form.
type value struct {
	kind kind
	b    bool
	s    string
	num  numeric
	arr  []value
	obj  map[string]value
}

// numeric is a finite number; isInt when it is an integer that fits in an
// int64 (then i holds it exactly).
type numeric struct {
	f     float64
	i     int64
	isInt bool
}

func (n numeric) equal(got *qc.Value) bool {
	switch k := got.GetKind().(type) {
	case *qc.Value_IntegerValue:
		if n.isInt {
			return n.i == k.IntegerValue
		}
		return n.f == float64(k.IntegerValue)
	case *qc.Value_DoubleValue:
		return n.f == k.DoubleValue
	}
	return false
}

func fromFloat(f float64) (numeric, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return numeric{}, fmt.Errorf("number %v is not finite", f)
	}
	n := numeric{f: f}
	if f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
		n.i, n.isInt = int64(f), true
	}
	return n, nil
}

// normalize converts a decoded JSON value (json.Number or any Go number,
// string, bool, nil, []any, map[string]any) to its canonical form.
func normalize(v any) (value, error) {
	switch v := v.(type) {
	case nil:
		return value{kind: kindNull}, nil
	case bool:
		return value{kind: kindBool, b: v}, nil
	case string:
		return value{kind: kindString, s: v}, nil
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) {
			return value{}, fmt.Errorf("number %s is not a finite float64", v)
		}
		n := numeric{f: f}
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			n.i, n.isInt = i, true
		} else if n, err = fromFloat(f); err != nil {
			return value{}, err
		}
		return value{kind: kindNumber, num: n}, nil
	case float64:
		n, err := fromFloat(v)
		return value{kind: kindNumber, num: n}, err
	case float32:
		n, err := fromFloat(float64(v))
		return value{kind: kindNumber, num: n}, err
	case int:
		return intValue(int64(v)), nil
	case int8:
		return intValue(int64(v)), nil
	case int16:
		return intValue(int64(v)), nil
	case int32:
		return intValue(int64(v)), nil
	case int64:
		return intValue(v), nil
	case uint8:
		return intValue(int64(v)), nil
	case uint16:
		return intValue(int64(v)), nil
	case uint32:
		return intValue(int64(v)), nil
	case uint:
		return uintValue(uint64(v)), nil
	case uint64:
		return uintValue(v), nil
	case []any:
		out := value{kind: kindArray, arr: make([]value, len(v))}
		for i, e := range v {
			ev, err := normalize(e)
			if err != nil {
				return value{}, fmt.Errorf("element %d: %w", i, err)
			}
			out.arr[i] = ev
		}
		return out, nil
	case map[string]any:
		out := value{kind: kindObject, obj: make(map[string]value, len(v))}
		for k, e := range v {
			ev, err := normalize(e)
			if err != nil {
				return value{}, fmt.Errorf("key %q: %w", k, err)
			}
			out.obj[k] = ev
		}
		return out, nil
	}
	return value{}, fmt.Errorf("unsupported value of type %T", v)
}

func intValue(i int64) value {
	return value{kind: kindNumber, num: numeric{f: float64(i), i: i, isInt: true}}
}

func uintValue(u uint64) value {
	if u <= math.MaxInt64 {
		return intValue(int64(u))
	}
	return value{kind: kindNumber, num: numeric{f: float64(u)}}
}

// equal reports whether a stored payload value equals v: same JSON kind,
// numbers numerically, arrays element by element, objects key by key.
func (v value) equal(got *qc.Value) bool {
	switch v.kind {
	case kindNull:
		_, ok := got.GetKind().(*qc.Value_NullValue)
		return ok
	case kindBool:
		b, ok := got.GetKind().(*qc.Value_BoolValue)
		return ok && b.BoolValue == v.b
	case kindString:
		s, ok := got.GetKind().(*qc.Value_StringValue)
		return ok && s.StringValue == v.s
	case kindNumber:
		return v.num.equal(got)
	case kindArray:
		l, ok := got.GetKind().(*qc.Value_ListValue)
		if !ok || len(l.ListValue.GetValues()) != len(v.arr) {
			return false
		}
		for i, e := range v.arr {
			if !e.equal(l.ListValue.GetValues()[i]) {
				return false
			}
		}
		return true
	case kindObject:
		st, ok := got.GetKind().(*qc.Value_StructValue)
		if !ok || len(st.StructValue.GetFields()) != len(v.obj) {
			return false
		}
		for k, e := range v.obj {
			g, ok := st.StructValue.GetFields()[k]
			if !ok || !e.equal(g) {
				return false
			}
		}
		return true
	}
	return false
}

// necessary returns Qdrant conditions on path that every stored value
// equal to v satisfies (Qdrant matches an array when one element matches,
// so they narrow the search without deciding it). Members of objects whose
// key Qdrant cannot address, and array elements that are not scalars, add
// no condition.
func (v value) necessary(path string) []*qc.Condition {
	switch v.kind {
	case kindNull:
		return []*qc.Condition{qc.NewIsNull(path)}
	case kindBool:
		return []*qc.Condition{qc.NewMatchBool(path, v.b)}
	case kindString:
		return []*qc.Condition{qc.NewMatchKeyword(path, v.s)}
	case kindNumber:
		// A range, not an integer match: match integer misses stored
		// doubles (1.0), a range compares both numerically.
		f := v.num.f
		return []*qc.Condition{qc.NewRange(path, &qc.Range{Gte: &f, Lte: &f})}
	case kindArray:
		if len(v.arr) == 0 {
			return []*qc.Condition{qc.NewIsEmpty(path)}
		}
		var out []*qc.Condition
		for _, e := range v.arr {
			switch e.kind {
			case kindBool, kindString, kindNumber:
				out = append(out, e.necessary(path)...)
			}
		}
		return out
	case kindObject:
		keys := make([]string, 0, len(v.obj))
		for k := range v.obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var out []*qc.Condition
		for _, k := range keys {
			sub, ok := projqdrant.PayloadPath(k)
			if !ok {
				continue
			}
			out = append(out, v.obj[k].necessary(path+strings.TrimPrefix(sub, projqdrant.KeyPayload))...)
		}
		return out
	}
	return nil
}

// filter is one equality condition on a top-level key of the record.
type filter struct {
	key  string
	path string
	want value
}

// compiledFilters are a query's payload filters, in key order.
type compiledFilters []filter

// compileFilters validates the filters of a query, reporting every bad
// one as a field of domain.ValidationErrors ("filters.<key>").
func compileFilters(m map[string]any) (compiledFilters, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make(compiledFilters, 0, len(keys))
	var errs domain.ValidationErrors
	for _, k := range keys {
		path, ok := projqdrant.PayloadPath(k)
		if !ok {
			errs = append(errs, domain.ValidationError{Field: "filters." + k, Err: ErrInvalidQuery,
				Message: "the key cannot be addressed in the vector index (empty, or contains '\"' or '\\')"})
			continue
		}
		want, err := normalize(m[k])
		if err != nil {
			errs = append(errs, domain.ValidationError{Field: "filters." + k, Message: err.Error(), Err: ErrInvalidQuery})
			continue
		}
		out = append(out, filter{key: k, path: path, want: want})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// conditions are the Qdrant conditions narrowing the search.
func (fs compiledFilters) conditions() []*qc.Condition {
	var out []*qc.Condition
	for _, f := range fs {
		out = append(out, f.want.necessary(f.path)...)
	}
	return out
}

// match decides the filters exactly on a point's record fields.
func (fs compiledFilters) match(record map[string]*qc.Value) bool {
	for _, f := range fs {
		got, ok := record[f.key]
		if !ok || !f.want.equal(got) {
			return false
		}
	}
	return true
}

// keyHeap keeps the n candidates with the smallest coordinate keys (a
// max-heap on the key, so the largest kept key is evicted first).
type keyHeap struct {
	n     int
	items []candidate
}

func newKeyHeap(n int) *keyHeap { return &keyHeap{n: max(n, 0)} }

func (h *keyHeap) Len() int           { return len(h.items) }
func (h *keyHeap) Less(i, j int) bool { return h.items[i].key > h.items[j].key }
func (h *keyHeap) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *keyHeap) Push(x any)         { h.items = append(h.items, x.(candidate)) }
func (h *keyHeap) Pop() any {
	last := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return last
}

// offer keeps c if it is among the n smallest keys offered so far.
func (h *keyHeap) offer(c candidate) {
	switch {
	case h.n == 0:
	case len(h.items) < h.n:
		heap.Push(h, c)
	case c.key < h.items[0].key:
		h.items[0] = c
		heap.Fix(h, 0)
	}
}

// items returns the kept candidates (in no particular order).
func (h *keyHeap) kept() []candidate { return h.items }
