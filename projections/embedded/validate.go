package embedded

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/vectorindex"
	"github.com/somafractalmemory/soma/projections"
)

// item is one event of a batch that passed validation.
type item struct {
	idx  int // index in the batch given to Apply or Append
	ev   domain.Event
	id   string // canonical UUID text
	ns   string
	key  string // canonical key of the subject coordinate
	src  string
	part int32
	off  int64
	// Of MemoryStored events: the payload's filterable top-level fields.
	fields vectorindex.Fields
}

// normalize is projections.Normalize: the same rules in every read model.
func normalize(e domain.Event) (domain.Event, string) { return projections.Normalize(e) }

// payloadFields checks that p is one JSON object and returns its
// filterable top-level fields.
func payloadFields(p json.RawMessage) (vectorindex.Fields, string) {
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, "payload is not a JSON object"
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "payload has trailing data after the object"
	}
	return vectorindex.PayloadFields(obj), ""
}
