// Package httpapi maps the write API's HTTP routes (gin) to the command
// handlers of package commands. It is the only place that knows about
// HTTP status codes for commands.
package httpapi

import (
	_ "embed"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/internal/idempotency"
)

// Routes of the write API (path templates, as registered).
const (
	RouteStore         = "/store"
	RouteRemember      = "/remember"
	RouteStoreBulk     = "/store_bulk"
	RouteLink          = "/link"
	RouteUnlink        = "/unlink"
	RouteDelete        = "/delete"
	RouteDeleteMany    = "/delete_many"
	RouteSetImportance = "/set_importance"
	RouteImport        = "/import"
)

// BulkRoutes are the routes whose bodies may use the larger bulk limit.
var BulkRoutes = []string{RouteStoreBulk, RouteImport}

// HeaderIdempotencyKey carries the client's idempotency key.
const HeaderIdempotencyKey = "Idempotency-Key"

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document of the write routes (the
// public routes are merged in by httpx).
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

// StoreCounter counts stored memories per namespace
// (soma_memory_store_total).
type StoreCounter interface {
	Add(namespace string, n int)
}

// Options of the write routes.
type Options struct {
	// Idempotency remembers answers of requests with an Idempotency-Key.
	// Nil: the header is ignored.
	Idempotency    idempotency.Store
	IdempotencyTTL time.Duration
	// Stored counts stored memories; nil counts nothing.
	Stored StoreCounter
	// RetryAfter is sent with 503 answers (default 2s).
	RetryAfter time.Duration
}

// Register mounts the command routes on api (the httpx API group: auth,
// rate limit, namespace and body limit already applied).
func Register(api *gin.RouterGroup, app *commands.Application, opts Options) {
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = 2 * time.Second
	}
	if opts.IdempotencyTTL <= 0 {
		opts.IdempotencyTTL = 24 * time.Hour
	}
	h := &handlers{app: app, opts: opts}
	idem := idempotent(opts.Idempotency, opts.IdempotencyTTL, opts.RetryAfter)
	api.POST(RouteStore, idem, h.store)
	api.POST(RouteRemember, idem, h.remember)
	api.POST(RouteStoreBulk, idem, h.storeBulk)
	api.POST(RouteLink, idem, h.link)
	api.POST(RouteUnlink, idem, h.unlink)
	api.POST(RouteDelete, idem, h.deleteOne)
	api.POST(RouteDeleteMany, idem, h.deleteMany)
	api.POST(RouteSetImportance, idem, h.setImportance)
	api.POST(RouteImport, idem, h.importMemories)
}
