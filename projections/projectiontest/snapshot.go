package projectiontest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/somafractalmemory/soma/domain"
)

// memoryView is a Memory in comparable form: payload numbers as float64,
// times in UTC, the fields a versionless target lacks zeroed.
type memoryView struct {
	Namespace      string
	Coordinate     string
	Type           domain.MemoryType
	Payload        map[string]any
	Importance     *float64
	ImportanceNorm float64
	StoredAt       time.Time
	UpdatedAt      time.Time
	Version        int64
	LastEventID    string
}

func viewMemory(m domain.Memory, versionless bool) memoryView {
	v := memoryView{
		Namespace:      m.Namespace,
		Coordinate:     m.Coordinate.Key(),
		Type:           m.Type,
		Payload:        normalizeJSON(m.Payload),
		Importance:     m.Importance,
		ImportanceNorm: m.ImportanceNorm,
		StoredAt:       m.StoredAt.UTC(),
	}
	if !versionless {
		v.UpdatedAt = m.UpdatedAt.UTC()
		v.Version = m.Version
		v.LastEventID = m.LastEventID
	}
	return v
}

func normalizeJSON(p map[string]any) map[string]any {
	b, err := json.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("payload does not encode: %v", err))
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

type linkView struct {
	From, To  string
	Type      string
	Weight    float64
	CreatedAt time.Time
}

func viewLinks(ls []domain.Link) []linkView {
	out := make([]linkView, len(ls))
	for i, l := range ls {
		out[i] = linkView{From: l.From.Key(), To: l.To.Key(), Type: l.Type, Weight: l.Weight, CreatedAt: l.CreatedAt.UTC()}
	}
	return out
}

type counts struct{ Total, Episodic, Semantic int64 }

// snapshot is everything the probe can see about a set of coordinates in
// a set of namespaces.
type snapshot struct {
	Records map[string]memoryView // "ns/key" → memory (absent: no memory)
	Links   map[string][]linkView // "ns/key" → outgoing edges (LinkProbe only)
	Counts  map[string]counts     // ns → counts (CountProbe only)
}

func takeSnapshot(ctx context.Context, tg Target, nss []string, coords []domain.Coordinate) (snapshot, error) {
	s := snapshot{Records: map[string]memoryView{}}
	lp, hasLinks := tg.Probe.(LinkProbe)
	cp, hasCounts := tg.Probe.(CountProbe)
	if hasLinks {
		s.Links = map[string][]linkView{}
	}
	if hasCounts {
		s.Counts = map[string]counts{}
	}
	for _, ns := range nss {
		for _, c := range coords {
			id := ns + "/" + c.Key()
			m, ok, err := tg.Probe.Record(ctx, ns, c)
			if err != nil {
				return snapshot{}, fmt.Errorf("record %s: %w", id, err)
			}
			if ok {
				s.Records[id] = viewMemory(m, tg.Versionless)
			}
			if hasLinks {
				ls, err := lp.Links(ctx, ns, c)
				if err != nil {
					return snapshot{}, fmt.Errorf("links %s: %w", id, err)
				}
				if len(ls) > 0 {
					s.Links[id] = viewLinks(ls)
				}
			}
		}
		if hasCounts {
			var c counts
			var err error
			if c.Total, c.Episodic, c.Semantic, err = cp.Counts(ctx, ns); err != nil {
				return snapshot{}, fmt.Errorf("counts %s: %w", ns, err)
			}
			s.Counts[ns] = c
		}
	}
	return s, nil
}

// modelSnapshot is what takeSnapshot must return for a target that applied
// what m applied.
func modelSnapshot(m *model, tg Target, nss []string, coords []domain.Coordinate) snapshot {
	s := snapshot{Records: map[string]memoryView{}}
	_, hasLinks := tg.Probe.(LinkProbe)
	_, hasCounts := tg.Probe.(CountProbe)
	if hasLinks {
		s.Links = map[string][]linkView{}
	}
	if hasCounts {
		s.Counts = map[string]counts{}
	}
	for _, ns := range nss {
		for _, c := range coords {
			id := ns + "/" + c.Key()
			if mem, ok := m.record(ns, c); ok {
				s.Records[id] = viewMemory(mem, tg.Versionless)
			}
			if hasLinks {
				if ls := m.links(ns, c); len(ls) > 0 {
					s.Links[id] = viewLinks(ls)
				}
			}
		}
		if hasCounts {
			s.Counts[ns] = m.counts(ns)
		}
	}
	return s
}
