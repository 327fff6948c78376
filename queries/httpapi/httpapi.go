// Package httpapi maps the query API's HTTP routes (gin) to the query
// handlers of package queries. It is the only place that knows about HTTP
// status codes for queries.
package httpapi

import (
	_ "embed"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/somafractalmemory/soma/queries"
)

// Routes of the query API (path templates, as registered).
const (
	RouteRecall            = "/recall"
	RouteRecallBatch       = "/recall_batch"
	RouteRecallWithScores  = "/recall_with_scores"
	RouteRecallWithContext = "/recall_with_context"
	RouteRange             = "/range"
	RouteNeighbors         = "/neighbors"
	RouteShortestPath      = "/shortest_path"
	RouteStats             = "/stats"
	RouteMemory            = "/memory"
	RouteExport            = "/export"
	RouteHistory           = "/history"
)

// ContentTypeNDJSON is the media type of GET /export.
const ContentTypeNDJSON = "application/x-ndjson"

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document of the query routes (the
// public routes and shared components are merged in by httpx).
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

// Options of the query routes.
type Options struct {
	// RetryAfter is sent with 503 answers for unavailable read models or
	// embedder (default 2s).
	RetryAfter time.Duration
	// LagRetryAfter is sent with 503 answers when a consistency token was
	// not applied in time (default 1s).
	LagRetryAfter time.Duration
	// ExportFlushEvery flushes the export stream every so many records
	// (default 256).
	ExportFlushEvery int
}

// Register mounts the query routes on api (the httpx API group: auth,
// rate limit, namespace and body limit already applied).
func Register(api *gin.RouterGroup, app *queries.Application, opts Options) {
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = 2 * time.Second
	}
	if opts.LagRetryAfter <= 0 {
		opts.LagRetryAfter = time.Second
	}
	if opts.ExportFlushEvery <= 0 {
		opts.ExportFlushEvery = 256
	}
	h := &handlers{app: app, opts: opts}
	api.POST(RouteRecall, h.recall)
	api.POST(RouteRecallBatch, h.recallBatch)
	api.POST(RouteRecallWithScores, h.recallWithScores)
	api.POST(RouteRecallWithContext, h.recallWithContext)
	api.GET(RouteRange, h.rangeCoords)
	api.GET(RouteNeighbors, h.neighbors)
	api.GET(RouteShortestPath, h.shortestPath)
	api.GET(RouteStats, h.stats)
	api.GET(RouteMemory, h.memory)
	api.GET(RouteExport, h.export)
	api.GET(RouteHistory, h.history)
}
