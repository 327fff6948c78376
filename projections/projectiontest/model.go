package projectiontest

import (
	"slices"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/projections"
)

// model is the reference: the rules of the read model applied one event
// at a time, in memory. Every target must end in the state the model
// reaches for the same batch.
//
// The rules:
//   - MemoryStored creates or replaces the memory; a replacement keeps
//     counting versions (version = previous + 1), StoredAt and UpdatedAt
//     are the event's time.
//   - MemoryDeleted removes the memory and every edge from or to its
//     coordinate, whether or not a memory existed there.
//   - MemoriesLinked creates or replaces the edge From→To only if a memory
//     exists at From (otherwise nothing happens); a replaced edge keeps its
//     place in insertion order and takes the new type, weight and time.
//   - MemoryUnlinked removes the edge if present.
//   - MemoryImportanceSet changes the importance of an existing memory
//     (domain.Memory.ApplyImportance) and does nothing otherwise.
//   - Events at or below the applied position of their partition are
//     skipped.
type model struct {
	records   map[string]map[string]domain.Memory // ns → key → memory
	edges     map[string][]domain.Link            // ns → edges in insertion order
	positions map[string]map[int32]int64          // source → partition → offset
}

func newModel() *model {
	return &model{records: map[string]map[string]domain.Memory{}, edges: map[string][]domain.Link{}, positions: map[string]map[int32]int64{}}
}

func (m *model) applyAll(batch []projections.Envelope) {
	for _, env := range batch {
		pos := m.positions[env.Source]
		if pos == nil {
			pos = map[int32]int64{}
			m.positions[env.Source] = pos
		}
		if cur, ok := pos[env.Partition]; ok && env.Offset <= cur {
			continue
		}
		pos[env.Partition] = env.Offset
		m.apply(env.Event)
	}
}

func (m *model) apply(e domain.Event) {
	ns := e.Metadata().Namespace
	if m.records[ns] == nil {
		m.records[ns] = map[string]domain.Memory{}
	}
	recs := m.records[ns]
	switch e := e.(type) {
	case domain.MemoryStored:
		mem, err := domain.MemoryFromStored(e)
		if err != nil {
			panic(err) // the suite only builds valid payloads
		}
		if prev, ok := recs[e.Coordinate.Key()]; ok {
			mem.Version = prev.Version + 1
		}
		recs[e.Coordinate.Key()] = mem
	case domain.MemoryDeleted:
		k := e.Coordinate.Key()
		delete(recs, k)
		m.edges[ns] = slices.DeleteFunc(m.edges[ns], func(l domain.Link) bool {
			return l.From.Key() == k || l.To.Key() == k
		})
	case domain.MemoriesLinked:
		if _, ok := recs[e.From.Key()]; !ok {
			return
		}
		l := domain.LinkFromEvent(e)
		for i, old := range m.edges[ns] {
			if old.From.Equal(l.From) && old.To.Equal(l.To) {
				m.edges[ns][i] = l
				return
			}
		}
		m.edges[ns] = append(m.edges[ns], l)
	case domain.MemoryUnlinked:
		m.edges[ns] = slices.DeleteFunc(m.edges[ns], func(l domain.Link) bool {
			return l.From.Equal(e.From) && l.To.Equal(e.To)
		})
	case domain.MemoryImportanceSet:
		if mem, ok := recs[e.Coordinate.Key()]; ok {
			mem.ApplyImportance(e)
			recs[e.Coordinate.Key()] = mem
		}
	}
}

func (m *model) record(ns string, c domain.Coordinate) (domain.Memory, bool) {
	mem, ok := m.records[ns][c.Key()]
	return mem, ok
}

func (m *model) links(ns string, from domain.Coordinate) []domain.Link {
	out := []domain.Link{}
	for _, l := range m.edges[ns] {
		if l.From.Equal(from) {
			out = append(out, l)
		}
	}
	return out
}

func (m *model) counts(ns string) counts {
	var c counts
	for _, mem := range m.records[ns] {
		c.Total++
		if mem.Type == domain.Semantic {
			c.Semantic++
		} else {
			c.Episodic++
		}
	}
	return c
}
