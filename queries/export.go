package queries

import (
	"context"

	"github.com/somafractalmemory/soma/domain"
)

// Export walks every memory of a namespace.
type Export struct {
	Caller
}

// ExportHandler handles Export.
type ExportHandler struct{ c *core }

// Handle waits for the token, then calls fn with each memory, ordered by
// coordinate key, without holding them all in memory. fn's error stops the
// walk and is returned as is. Errors before the first call to fn can still
// be answered with a status; later ones cannot.
func (h *ExportHandler) Handle(ctx context.Context, q Export, fn func(domain.Memory) error) error {
	if h.c.exporter == nil {
		return notConfigured("exporter")
	}
	if err := h.c.await(ctx, q.Token, RoleExport); err != nil {
		return err
	}
	var fnErr error
	err := h.c.exporter.Export(ctx, q.Namespace, func(m domain.Memory) error {
		fnErr = fn(m)
		return fnErr
	})
	if err != nil && fnErr != nil {
		return fnErr
	}
	if err != nil {
		return readErr("export", err)
	}
	return nil
}
