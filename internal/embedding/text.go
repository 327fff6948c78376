package embedding

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// textFields are the payload keys whose string values TextOf embeds, in
// this order. Renaming, removing or reordering one changes the text of
// stored memories and needs a re-embedding of the index.
var textFields = [...]string{
	"text", "content", "memory", "message", "fact",
	"task", "query", "description", "summary", "title",
}

// skippedFields are the top-level payload keys TextOf never embeds when it
// flattens a payload: fields the service itself adds to records, and
// volatile ones that would make the vector change without the meaning
// changing (the original embedded the timestamp, so the query text barely
// mattered).
var skippedFields = [...]string{
	"timestamp", "memory_type", "coordinate", "importance", "importance_norm",
	"access_count", "created_at", "updated_at", "id",
}

// TextFields returns the payload keys whose string values TextOf embeds, in
// priority order: text, content, memory, message, fact, task, query,
// description, summary, title.
func TextFields() []string { return slices.Clone(textFields[:]) }

// SkippedFields returns the top-level payload keys TextOf leaves out when it
// flattens a payload: timestamp, memory_type, coordinate, importance,
// importance_norm, access_count, created_at, updated_at, id.
func SkippedFields() []string { return slices.Clone(skippedFields[:]) }

// maxFlattenDepth bounds the recursion of TextOf's flattening; deeper values
// are left out. JSON payloads are trees, so this only matters for very deep
// (or, built in Go, cyclic) values.
const maxFlattenDepth = 32

// TextOf returns the text of a memory payload that is embedded, by this rule:
//
//  1. If any key of TextFields() holds a string that is not blank (not only
//     white space), the text is those strings, in TextFields order, joined
//     with "\n". Nothing else of the payload is embedded.
//  2. Otherwise the text is a canonical flattening of the payload: one
//     "key: value" line per string, number or boolean, keys sorted
//     (byte-wise) at every level, nested objects and arrays flattened with
//     dotted keys ("user.name: Ann", "tags.0: red"), null and empty
//     containers left out, lines joined with "\n". The top-level keys of
//     SkippedFields() are left out (nested keys of those names are kept).
//     Numbers are formatted with strconv.FormatFloat(f, 'g', -1, 64) (json.Number
//     as given); values of other Go types are written as their JSON.
//
// The result depends only on the payload's content, never on map iteration
// order. A nil or empty payload gives "".
func TextOf(payload map[string]any) string {
	var parts []string
	for _, k := range textFields {
		if s, ok := payload[k].(string); ok && strings.TrimSpace(s) != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, "\n")
	}
	var b strings.Builder
	for _, k := range sortedKeys(payload) {
		if slices.Contains(skippedFields[:], k) {
			continue
		}
		flatten(&b, k, payload[k], 1)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// flatten writes the "key: value" lines of v under key.
func flatten(b *strings.Builder, key string, v any, depth int) {
	if depth > maxFlattenDepth {
		return
	}
	switch x := v.(type) {
	case nil:
	case string:
		line(b, key, x)
	case bool:
		line(b, key, strconv.FormatBool(x))
	case float64:
		line(b, key, strconv.FormatFloat(x, 'g', -1, 64))
	case float32:
		line(b, key, strconv.FormatFloat(float64(x), 'g', -1, 32))
	case int:
		line(b, key, strconv.Itoa(x))
	case int64:
		line(b, key, strconv.FormatInt(x, 10))
	case int32:
		line(b, key, strconv.FormatInt(int64(x), 10))
	case uint64:
		line(b, key, strconv.FormatUint(x, 10))
	case json.Number:
		line(b, key, x.String())
	case map[string]any:
		for _, k := range sortedKeys(x) {
			flatten(b, key+"."+k, x[k], depth+1)
		}
	case []any:
		for i, e := range x {
			flatten(b, key+"."+strconv.Itoa(i), e, depth+1)
		}
	case map[string]string:
		for _, k := range sortedKeys(x) {
			line(b, key+"."+k, x[k])
		}
	case []string:
		for i, e := range x {
			line(b, key+"."+strconv.Itoa(i), e)
		}
	default:
		// Other Go types: their JSON (map keys sorted, so deterministic);
		// values JSON cannot encode are left out.
		if j, err := json.Marshal(x); err == nil && string(j) != "null" {
			line(b, key, string(j))
		}
	}
}

func line(b *strings.Builder, key, value string) {
	b.WriteString(key)
	b.WriteString(": ")
	b.WriteString(value)
	b.WriteByte('\n')
}
