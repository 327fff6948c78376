// Package consistency defines the read-your-writes token: the log positions
// of the events a command wrote. The write API returns it (JSON field and
// X-Soma-Consistency-Token header); the query API waits until every read
// model a route reads has applied at least those positions.
package consistency

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Header is the HTTP header carrying a token in both directions.
const Header = "X-Soma-Consistency-Token"

// QueryParam is the query-string alternative to Header on the query API.
const QueryParam = "consistency_token"

// EventLogSource is the Source of tokens written in direct-write mode: the
// positions are sequence numbers of the event_log table (partition 0).
const EventLogSource = "event_log"

// version prefixes every encoded token; bump it when the encoding changes.
const version = "v1."

// maxPartitions bounds what a client-supplied token may name.
const maxPartitions = 4096

// ErrInvalidToken is returned by Parse for anything that is not a token.
var ErrInvalidToken = errors.New("invalid consistency token")

// Token is a set of positions in one log: for each partition, the offset of
// the last event written there (inclusive). The zero Token means "nothing
// to wait for".
type Token struct {
	// Source is the Kafka topic, or EventLogSource in direct mode.
	Source string
	// Positions maps partition to offset.
	Positions map[int32]int64
}

// Add records that the event at (partition, offset) was written, keeping
// the highest offset per partition.
func (t *Token) Add(partition int32, offset int64) {
	if t.Positions == nil {
		t.Positions = make(map[int32]int64)
	}
	if cur, ok := t.Positions[partition]; !ok || offset > cur {
		t.Positions[partition] = offset
	}
}

// IsZero reports whether the token names no position.
func (t Token) IsZero() bool { return len(t.Positions) == 0 }

// Encode returns the opaque, URL-safe text form.
func (t Token) Encode() string {
	if t.IsZero() {
		return ""
	}
	parts := make([]int32, 0, len(t.Positions))
	for p := range t.Positions {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	var b strings.Builder
	b.WriteString(t.Source)
	for _, p := range parts {
		b.WriteByte('|')
		b.WriteString(strconv.FormatInt(int64(p), 10))
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(t.Positions[p], 10))
	}
	return version + base64.RawURLEncoding.EncodeToString([]byte(b.String()))
}

// String is Encode.
func (t Token) String() string { return t.Encode() }

// Parse decodes a token produced by Encode. The empty string is the zero
// token. Anything else malformed wraps ErrInvalidToken.
func Parse(s string) (Token, error) {
	if s == "" {
		return Token{}, nil
	}
	if len(s) > 64*1024 || !strings.HasPrefix(s, version) {
		return Token{}, fmt.Errorf("%w: unknown format", ErrInvalidToken)
	}
	raw, err := base64.RawURLEncoding.DecodeString(s[len(version):])
	if err != nil {
		return Token{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	fields := strings.Split(string(raw), "|")
	if fields[0] == "" || len(fields) < 2 || len(fields)-1 > maxPartitions {
		return Token{}, fmt.Errorf("%w: no positions", ErrInvalidToken)
	}
	t := Token{Source: fields[0], Positions: make(map[int32]int64, len(fields)-1)}
	for _, f := range fields[1:] {
		ps, os, ok := strings.Cut(f, ":")
		if !ok {
			return Token{}, fmt.Errorf("%w: bad position %q", ErrInvalidToken, f)
		}
		p, err1 := strconv.ParseInt(ps, 10, 32)
		o, err2 := strconv.ParseInt(os, 10, 64)
		if err1 != nil || err2 != nil || p < 0 || o < 0 {
			return Token{}, fmt.Errorf("%w: bad position %q", ErrInvalidToken, f)
		}
		t.Add(int32(p), o)
	}
	return t, nil
}

// Merge returns a token covering the positions of both (same Source). A
// zero token merges into anything.
func (t Token) Merge(o Token) (Token, error) {
	if o.IsZero() {
		return t, nil
	}
	if t.IsZero() {
		return o, nil
	}
	if t.Source != o.Source {
		return Token{}, fmt.Errorf("%w: cannot merge positions of %q and %q", ErrInvalidToken, t.Source, o.Source)
	}
	out := Token{Source: t.Source}
	for p, off := range t.Positions {
		out.Add(p, off)
	}
	for p, off := range o.Positions {
		out.Add(p, off)
	}
	return out, nil
}

// Lag is what is missing before a read model has applied a token.
type Lag struct {
	// Partition and the offsets wanted and applied (-1: nothing applied).
	Partition int32
	Want      int64
	Applied   int64
}

// Missing compares the token with applied positions (partition → offset
// of the last applied event, absent = nothing applied) and returns the
// partitions still behind, sorted by partition. Empty means satisfied.
func (t Token) Missing(applied map[int32]int64) []Lag {
	var out []Lag
	for p, want := range t.Positions {
		got, ok := applied[p]
		if !ok {
			got = -1
		}
		if got < want {
			out = append(out, Lag{Partition: p, Want: want, Applied: got})
		}
	}
	slices.SortFunc(out, func(a, b Lag) int { return int(a.Partition - b.Partition) })
	return out
}
