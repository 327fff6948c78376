package queries

import (
	"context"
	"time"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
)

// Application lists every query the service answers.
type Application struct {
	Recall            *RecallHandler
	RecallBatch       *RecallBatchHandler
	RecallWithScores  *RecallWithScoresHandler
	RecallWithContext *RecallWithContextHandler
	Range             *RangeHandler
	Neighbors         *NeighborsHandler
	ShortestPath      *ShortestPathHandler
	Stats             *StatsHandler
	GetMemory         *GetMemoryHandler
	Export            *ExportHandler
	History           *HistoryHandler
}

// Embedder turns query texts into vectors (internal/embedding implements
// it). Its Model() must be the model the vector index was built with.
type Embedder interface {
	Model() string
	Dim() int
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Caller identifies the tenant of a query and what it must see.
type Caller struct {
	Namespace string
	// Token holds log positions (from a command's answer) that every read
	// model the query reads must have applied before it runs. The zero
	// token waits for nothing.
	Token consistency.Token
}

// Match is one recall result: the search hit and the hydrated memory.
type Match struct {
	Hit
	Memory domain.Memory
}

// Deps are the read models and collaborators of the queries. A nil
// dependency makes the queries that need it fail with ErrNotConfigured.
type Deps struct {
	Embedder Embedder
	Vectors  VectorIndex
	// Records are tried in order for the keys still missing: typically
	// Redis first, then Postgres. An error of one store sends all its keys
	// to the next; an error of the last store fails the query.
	Records []RecordStore
	Graph   Graph
	Ranges  RangeScanner
	// Counters are tried in order; the first that answers wins (Redis
	// first, Postgres when Redis fails).
	Counters []Counter
	Exporter Exporter
	History  HistoryReader
	// Consistency waits for consistency tokens. Nil: tokens are accepted
	// and not waited for, which is only right when the read models are
	// written synchronously with the commands (direct-write mode in one
	// process).
	Consistency *Waiter
	// Now is the clock of recall_with_context's recency (default
	// time.Now).
	Now func() time.Time
	// MaxPathNodes bounds the nodes shortest_path expands (default
	// DefaultMaxPathNodes).
	MaxPathNodes int
}

// NewApplication wires every handler over one shared core.
func NewApplication(d Deps) *Application {
	c := newCore(d)
	return &Application{
		Recall:            &RecallHandler{c: c},
		RecallBatch:       &RecallBatchHandler{c: c},
		RecallWithScores:  &RecallWithScoresHandler{c: c},
		RecallWithContext: &RecallWithContextHandler{c: c},
		Range:             &RangeHandler{c: c},
		Neighbors:         &NeighborsHandler{c: c},
		ShortestPath:      &ShortestPathHandler{c: c},
		Stats:             &StatsHandler{c: c},
		GetMemory:         &GetMemoryHandler{c: c},
		Export:            &ExportHandler{c: c},
		History:           &HistoryHandler{c: c},
	}
}
