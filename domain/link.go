package domain

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Link defaults of the write API, applied when a request omits them.
const (
	DefaultLinkType   = "related"
	DefaultLinkWeight = 1.0
	// MaxLinkTypeLen is the longest link type accepted, in characters.
	MaxLinkTypeLen = 128
)

// ErrInvalidWeight is wrapped by link weight validation errors.
var ErrInvalidWeight = errors.New("invalid link weight")

// ErrInvalidLinkType is wrapped by link type validation errors.
var ErrInvalidLinkType = errors.New("invalid link type")

// Link is a directed, weighted edge From→To. There is at most one edge per
// ordered pair: linking again replaces its type, weight and CreatedAt.
// Self-loops are allowed; the target need not hold a memory.
type Link struct {
	From, To Coordinate
	// Type is a non-empty label such as DefaultLinkType.
	Type string
	// Weight is finite and ≥ 0; shortest-path search uses it as the cost.
	Weight float64
	// CreatedAt is when the edge was (re)created: the event's OccurredAt.
	CreatedAt time.Time
}

// LinkFromEvent is the edge a MemoriesLinked event creates or replaces.
func LinkFromEvent(e MemoriesLinked) Link {
	return Link{From: e.From, To: e.To, Type: e.LinkType, Weight: e.Weight, CreatedAt: e.OccurredAt}
}

// ValidateLinkWeight accepts finite weights ≥ 0 and otherwise returns an
// error wrapping ErrInvalidWeight.
func ValidateLinkWeight(w float64) error {
	if math.IsNaN(w) || math.IsInf(w, 0) {
		return fmt.Errorf("%w: %v is not finite", ErrInvalidWeight, w)
	}
	if w < 0 {
		return fmt.Errorf("%w: %v is negative", ErrInvalidWeight, w)
	}
	return nil
}

// NormalizeLinkType trims s and returns DefaultLinkType when nothing is
// left. A type that is not valid UTF-8 or is longer than MaxLinkTypeLen
// characters after trimming is an error wrapping ErrInvalidLinkType.
func NormalizeLinkType(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return DefaultLinkType, nil
	case !utf8.ValidString(s):
		return "", fmt.Errorf("%w: not valid UTF-8", ErrInvalidLinkType)
	case utf8.RuneCountInString(s) > MaxLinkTypeLen:
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidLinkType, MaxLinkTypeLen)
	}
	return s, nil
}

// ExportLinkKey is the single key of an edge line in an export (NDJSON):
// {"link": {"from": [..], "to": [..], "type": .., "weight": .., "timestamp": ..}}.
// An exported record always carries its coordinate, so a line whose only
// key is "link" is never a record.
const ExportLinkKey = "link"

// ExportLine is the edge as an export line (see ExportLinkKey); timestamp
// is epoch seconds.
func (l Link) ExportLine() map[string]any {
	edge := map[string]any{
		"from":   l.From.Values(),
		"to":     l.To.Values(),
		"type":   l.Type,
		"weight": l.Weight,
	}
	if !l.CreatedAt.IsZero() {
		edge["timestamp"] = float64(l.CreatedAt.UnixMicro()) / 1e6
	}
	return map[string]any{ExportLinkKey: edge}
}
