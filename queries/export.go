package queries

import (
	"context"

	"github.com/somafractalmemory/soma/domain"
)

// exportLinkBatch is how many exported memories share one lookup of their
// outgoing edges.
const exportLinkBatch = 500

// Export walks every memory of a namespace.
type Export struct {
	Caller
	// Links, when set, also receives every edge of the namespace: the
	// outgoing edges of each batch of memories right after that batch.
	// Every edge has an existing source (deleting a memory removes its
	// outgoing edges), so walking the sources finds them all.
	Links func(domain.Link) error
}

// ExportHandler handles Export.
type ExportHandler struct{ c *core }

// Handle waits for the token, then calls fn with each memory, ordered by
// coordinate key, without holding them all in memory (and q.Links with the
// edges, when set). A callback's error stops the walk and is returned as
// is. Errors before the first call to fn can still be answered with a
// status; later ones cannot.
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
	flush := func() error {
		if len(keys) == 0 {
			return nil
		}
		edges, err := h.c.graph.OutEdges(ctx, q.Namespace, keys, "")
		if err != nil {
			return readErr("export links", err)
		}
		for _, k := range keys {
			for _, l := range edges[k] {
				if err := q.Links(l); err != nil {
					return err
				}
			}
		}
		keys = keys[:0]
		return nil
	}
	err := h.c.exporter.Export(ctx, q.Namespace, func(m domain.Memory) error {
		if fnErr = fn(m); fnErr != nil {
			return fnErr
		}
		if q.Links != nil {
			keys = append(keys, m.Coordinate.Key())
			if len(keys) >= exportLinkBatch {
				fnErr = flush()
			}
		}
		return fnErr
	})
	if err != nil && fnErr != nil {
		return fnErr
	}
	if err != nil {
		return readErr("export", err)
	}
	if q.Links != nil {
		return flush()
	}
	return nil
}
