package queries

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Keys read by recall_with_context's re-ranking.
const (
	recordKeyTimestamp   = "timestamp"
	recordKeyAccessCount = "access_count"
	// contextMarker separates the query from the context in the text
	// embedded by recall_with_context.
	contextMarker = " [CTX] "
	// accessCountWeight multiplies access_count in the re-ranking key.
	accessCountWeight = 0.1
)

// RecallWithContext recalls with a context object mixed into the query
// text, then re-ranks by recency.
type RecallWithContext struct {
	Caller
	Query string
	// Context is any JSON object (nil is {}).
	Context map[string]any
	TopK    int
	Type    string
}

// RecallWithContextHandler handles RecallWithContext.
type RecallWithContextHandler struct{ c *core }

// Handle embeds ContextQueryText(Query, Context), recalls TopK matches as
// Recall does, then re-ranks them, as the original service did, by
//
//	key = recency + 0.1 × access_count
//	recency = 1 / (1 + age seconds)   for a record with a numeric "timestamp"
//	                                  (age = now − timestamp; a timestamp in
//	                                  the future counts as age 0)
//	        = 0                       without one
//
// where access_count counts only when it is a number. The similarity score
// is not part of the key: the sort is stable and descending, so matches
// with equal keys (e.g. semantic memories, which have no timestamp) keep
// their similarity order, after every match with a larger key.
func (h *RecallWithContextHandler) Handle(ctx context.Context, q RecallWithContext) ([]Match, error) {
	res, err := h.c.recall(ctx, Recall{Caller: q.Caller, Query: ContextQueryText(q.Query, q.Context), TopK: q.TopK, Type: q.Type})
	if err != nil {
		return nil, err
	}
	now := float64(h.c.now().UnixNano()) / 1e9
	keys := make(map[string]float64, len(res))
	for _, m := range res {
		keys[m.Coordinate.Key()] = contextRank(m.Memory.Payload, now)
	}
	slices.SortStableFunc(res, func(a, b Match) int {
		ka, kb := keys[a.Coordinate.Key()], keys[b.Coordinate.Key()]
		switch {
		case ka > kb:
			return -1
		case ka < kb:
			return 1
		}
		return 0
	})
	return res, nil
}

// contextRank is the re-ranking key of one payload.
func contextRank(payload map[string]any, now float64) float64 {
	var key float64
	if ts, ok := number(payload[recordKeyTimestamp]); ok {
		age := math.Max(0, now-ts)
		key += 1 / (1 + age)
	}
	if n, ok := number(payload[recordKeyAccessCount]); ok {
		key += accessCountWeight * n
	}
	return key
}

// number reads a finite JSON number of a payload.
func number(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(x), 64); err != nil {
			return 0, false
		}
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case int32:
		f = float64(x)
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// ContextQueryText is the text recall_with_context embeds:
// "{query} [CTX] {context}", the context written as Python's
// json.dumps(context, sort_keys=True) writes it (keys sorted, ", " and
// ": " separators, non-ASCII as \uXXXX escapes, numbers as sent), so the
// text matches the original service's.
func ContextQueryText(query string, ctxObj map[string]any) string {
	var b strings.Builder
	b.WriteString(query)
	b.WriteString(contextMarker)
	if ctxObj == nil {
		ctxObj = map[string]any{}
	}
	writePyJSON(&b, ctxObj)
	return b.String()
}

// writePyJSON writes v as Python's json.dumps(v, sort_keys=True).
func writePyJSON(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case string:
		writePyString(b, x)
	case json.Number:
		b.WriteString(string(x))
	case float64:
		writePyFloat(b, x)
	case float32:
		writePyFloat(b, float64(x))
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyString(b, k)
			b.WriteString(": ")
			writePyJSON(b, x[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyJSON(b, e)
		}
		b.WriteByte(']')
	default:
		// Not produced by JSON decoding; fall back to Go's encoding.
		raw, err := json.Marshal(x)
		if err != nil {
			fmt.Fprintf(b, "%q", fmt.Sprint(x))
			return
		}
		b.Write(raw)
	}
}

func writePyFloat(b *strings.Builder, f float64) {
	switch {
	case math.IsNaN(f):
		b.WriteString("NaN")
	case math.IsInf(f, 1):
		b.WriteString("Infinity")
	case math.IsInf(f, -1):
		b.WriteString("-Infinity")
	case f == math.Trunc(f) && math.Abs(f) < 1e16:
		b.WriteString(strconv.FormatFloat(f, 'f', 1, 64))
	default:
		b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	}
}

// writePyString writes s as a JSON string with ensure_ascii: control
// characters and everything beyond ASCII as \uXXXX (UTF-16 surrogate
// pairs above U+FFFF); invalid UTF-8 becomes U+FFFD.
func writePyString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	u := func(r rune) {
		b.WriteString(`\u`)
		b.WriteByte(hex[r>>12&0xf])
		b.WriteByte(hex[r>>8&0xf])
		b.WriteByte(hex[r>>4&0xf])
		b.WriteByte(hex[r&0xf])
	}
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || (r >= 0x7f && r <= 0xffff):
			u(r)
		case r > 0xffff:
			r -= 0x10000
			u(0xd800 + (r>>10)&0x3ff)
			u(0xdc00 + r&0x3ff)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}
