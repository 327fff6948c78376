package queries

import (
	"context"

	"github.com/somafractalmemory/soma/domain"
)

// exportLinkBatch is how many sources share one lookup of their outgoing
// edges.
const exportLinkBatch = 500

// Export walks every memory of a namespace.
type Export struct {
	Caller
	// Links, when set, also receives every edge of the namespace, after
	// the last memory, by source in memory order. Every edge has an
	// existing source (deleting a memory removes its outgoing edges), so
	// walking the sources finds them all.
	Links func(domain.Link) error
}

// ExportHandler handles Export.
type ExportHandler struct{ c *core }

// Handle waits for the token, then calls fn with each memory, ordered by
// coordinate key, without holding the memories in memory (and q.Links
// with the edges, when set: the walk keeps only the coordinate keys, and
// looks edges up once it has ended, so a read model that streams the walk
// on one connection never needs a second one at the same time). A
// callback's error stops the walk and is returned as is. Errors before
// the first call to fn can still be answered with a status; later ones
// cannot.
func (h *ExportHandler) Handle(ctx context.Context, q Export, fn func(domain.Memory) error) error {
	if h.c.exporter == nil {
		return notConfigured("exporter")
	}
	if q.Links != nil && h.c.graph == nil {
		return notConfigured("graph")
	}
	if err := h.c.await(ctx, q.Token, RoleExport); err != nil {
		return err
	}
	if q.Links != nil {
		if err := h.c.await(ctx, q.Token, RoleGraph); err != nil {
			return err
		}
	}
	var (
		fnErr error
		keys  []string
	)
	err := h.c.exporter.Export(ctx, q.Namespace, func(m domain.Memory) error {
		if fnErr = fn(m); fnErr != nil {
			return fnErr
		}
		if q.Links != nil {
			keys = append(keys, m.Coordinate.Key())
		}
		return nil
	})
	if err != nil && fnErr != nil {
		return fnErr
	}
	if err != nil {
		return readErr("export", err)
	}
	for start := 0; q.Links != nil && start < len(keys); start += exportLinkBatch {
		batch := keys[start:min(start+exportLinkBatch, len(keys))]
		edges, err := h.c.graph.OutEdges(ctx, q.Namespace, batch, "")
		if err != nil {
			return readErr("export links", err)
		}
		for _, k := range batch {
			for _, l := range edges[k] {
				if err := q.Links(l); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
