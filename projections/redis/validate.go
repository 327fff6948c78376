package redis

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/projections"
)

// normalize is projections.Normalize: the same rules in every read model.
func normalize(e domain.Event) (domain.Event, string) { return projections.Normalize(e) }

// payloadObject returns the payload without surrounding white space when
// it is exactly one JSON object (what domain.MemoryFromStored accepts),
// nil otherwise.
func payloadObject(p json.RawMessage) []byte {
	t := bytes.TrimSpace(p)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return nil
	}
	return t
}

// formatTime is the stored form of a time: RFC 3339 in UTC with
// nanoseconds, which parseTime reads back exactly.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}
