package postgres

import (
	"github.com/google/uuid"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/projections"
)

// item is one event of a batch that passed validation: its value form
// (pointers are dereferenced), its parsed id and its position.
type item struct {
	idx   int // index in the batch given to Apply
	ev    domain.Event
	id    uuid.UUID
	ns    string
	key   string // canonical key of the subject coordinate
	src   string
	part  int32
	off   int64
	order int // position among the events that are applied
}

// normalize is projections.Normalize: the same rules in every read model.
func normalize(e domain.Event) (domain.Event, string) { return projections.Normalize(e) }
