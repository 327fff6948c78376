package soma

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sort"
	"sync"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/app"
	"github.com/somafractalmemory/soma/internal/config"
	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/queries"
)

// Memory modes (Config.Mode, the MEMORY_MODE variable).
const (
	// ModeDevelopment uses the services configured in Settings and the
	// embedded store (SQLite + in-process vector index in DataDir) for the
	// rest. With nothing configured, everything is embedded.
	ModeDevelopment = config.ModeDevelopment
	// ModeTest keeps the embedded store in a temporary directory removed
	// by Close: nothing outlives the System.
	ModeTest = config.ModeTest
	// ModeEventedEnterprise and ModeCloudManaged require every external
	// service (Kafka, schema registry, Postgres, Qdrant, Redis).
	ModeEventedEnterprise = config.ModeEventedEnterprise
	ModeCloudManaged      = config.ModeCloudManaged
)

// Config configures an in-process System: the same settings as the
// environment variables of `soma serve` (listed with their defaults and
// meanings in .env.example), given by name. The System never reads the
// process environment itself.
type Config struct {
	// Mode is MEMORY_MODE: ModeDevelopment (the default), ModeTest,
	// ModeEventedEnterprise or ModeCloudManaged.
	Mode string
	// Namespace is the tenant this System reads and writes
	// (SOMA_MEMORY_NAMESPACE, default "default").
	Namespace string
	// DataDir is where the embedded store keeps its files (SOMA_DATA_DIR);
	// ignored in ModeTest.
	DataDir string
	// Settings holds any other variable by its environment name, e.g.
	// {"POSTGRES_URL": "postgres://…", "QDRANT_URL": "http://qdrant:6333",
	// "KAFKA_BOOTSTRAP_SERVERS": "…", "EVENTING_ENABLED": "true"}. The
	// fields above win over the same names here. An unknown name is an
	// error, so a typo does not silently fall back to a default.
	Settings map[string]string
	// Logger receives the system's logs; nil means slog.Default().
	Logger *slog.Logger
}

// load turns c into the service configuration, validated.
func (c Config) load() (config.Config, error) {
	known := make(map[string]bool, len(config.Variables))
	for _, v := range config.Variables {
		known[v.Name] = true
	}
	vars := make(map[string]string, len(c.Settings)+3)
	names := make([]string, 0, len(c.Settings))
	for k := range c.Settings {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !known[k] {
			return config.Config{}, invalid(fmt.Errorf("soma.Config.Settings: unknown variable %q (see .env.example)", k))
		}
		vars[k] = c.Settings[k]
	}
	for name, v := range map[string]string{"MEMORY_MODE": c.Mode, "SOMA_MEMORY_NAMESPACE": c.Namespace, "SOMA_DATA_DIR": c.DataDir} {
		if v != "" {
			vars[name] = v
		}
	}
	cfg, err := config.Load(config.MapLookup(vars))
	if err != nil {
		return config.Config{}, invalid(err)
	}
	return cfg, nil
}

// System is SomaFractalMemory running inside the program: the same
// command and query use cases, read models and background jobs
// (projection workers, eviction, decay) as `soma serve`, without HTTP. It
// implements Memory for one namespace; its writes are visible to its own
// later reads (it keeps the consistency token of its writes and waits for
// the read models on read, as the HTTP client does).
//
// A System is safe for concurrent use. Close it to stop the background
// jobs and release the stores.
type System struct {
	ns      string
	runtime *app.Runtime
	sys     *app.System
	cancel  context.CancelFunc
	done    chan error

	mu  sync.Mutex
	tok consistency.Token

	closeOnce sync.Once
	closeErr  error
}

var _ Memory = (*System)(nil)

// Open starts a System: it opens (and migrates) the configured stores,
// the embedded store for whatever is not configured, and starts the
// background jobs. ctx bounds only the start-up; the System runs until
// Close. This is the equivalent of the original
// create_memory_system(mode, namespace, config).
func Open(ctx context.Context, cfg Config) (*System, error) {
	c, err := cfg.load()
	if err != nil {
		return nil, err
	}
	rt := app.New(c, "library")
	if cfg.Logger != nil {
		rt.SetLogger(cfg.Logger)
	} else {
		rt.SetLogger(slog.Default())
	}
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	type result struct {
		sys *app.System
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := rt.Assemble(life)
		ch <- result{s, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		cancel()
		r = <-ch
		if r.err == nil {
			r.err = ctx.Err()
		}
	}
	if r.err != nil {
		cancel()
		rt.Close()
		return nil, classify(r.err)
	}
	s := &System{ns: c.Namespace, runtime: rt, sys: r.sys, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- r.sys.Run(life) }()
	return s, nil
}

// Namespace is the tenant the System reads and writes.
func (s *System) Namespace() string { return s.ns }

// Close stops the background jobs and closes the stores. With ModeTest it
// also removes the temporary data directory. It returns the error a
// background job stopped with, if any.
func (s *System) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		s.closeErr = <-s.done
		s.runtime.Close()
	})
	return s.closeErr
}

func (s *System) cmdCaller() commands.Caller {
	return commands.Caller{Namespace: s.ns, Actor: "library"}
}

func (s *System) queryCaller() queries.Caller {
	s.mu.Lock()
	defer s.mu.Unlock()
	return queries.Caller{Namespace: s.ns, Token: s.tok}
}

// accepted records a write's token (for read-your-writes) and renders it.
func (s *System) accepted(a commands.Accepted) Accepted {
	if !a.Token.IsZero() {
		s.mu.Lock()
		if merged, err := s.tok.Merge(a.Token); err == nil {
			s.tok = merged
		} else {
			s.tok = a.Token // another log (replay or mode change): the newest wins
		}
		s.mu.Unlock()
	}
	out := Accepted{EventIDs: a.EventIDs}
	if out.EventIDs == nil {
		out.EventIDs = []string{}
	}
	if !a.Token.IsZero() {
		out.ConsistencyToken = a.Token.Encode()
	}
	return out
}

// Store stores (or replaces) the memory at req.Coordinate.
func (s *System) Store(ctx context.Context, req StoreRequest) (StoreResult, error) {
	it, err := commandItem(req)
	if err != nil {
		return StoreResult{}, err
	}
	acc, err := s.sys.Commands.Store.Handle(ctx, commands.StoreMemory{Caller: s.cmdCaller(), StoreItem: it})
	if err != nil {
		return StoreResult{}, classify(err)
	}
	return StoreResult{Accepted: s.accepted(acc), Coordinate: fromDomain(it.Coordinate)}, nil
}

// Remember stores a memory, at a generated coordinate when
// req.Coordinate is nil.
func (s *System) Remember(ctx context.Context, req StoreRequest) (StoreResult, error) {
	it, err := commandItem(req)
	if err != nil {
		return StoreResult{}, err
	}
	res, err := s.sys.Commands.Remember.Handle(ctx, commands.Remember{Caller: s.cmdCaller(), StoreItem: it, HasCoordinate: req.Coordinate != nil})
	if err != nil {
		return StoreResult{}, classify(err)
	}
	return StoreResult{Accepted: s.accepted(res.Accepted), Coordinate: fromDomain(res.Coordinate)}, nil
}

// StoreBulk stores every item or none.
func (s *System) StoreBulk(ctx context.Context, items []StoreRequest) (BulkResult, error) {
	its := make([]commands.StoreItem, len(items))
	for i, req := range items {
		it, err := commandItem(req)
		if err != nil {
			return BulkResult{}, fmt.Errorf("items[%d]: %w", i, err)
		}
		its[i] = it
	}
	acc, err := s.sys.Commands.StoreBulk.Handle(ctx, commands.StoreBulk{Caller: s.cmdCaller(), Items: its})
	if err != nil {
		return BulkResult{}, classify(err)
	}
	return BulkResult{Accepted: s.accepted(acc), Stored: len(items)}, nil
}

// Link creates or replaces the edge req.From→req.To; a nil req.Weight is
// DefaultLinkWeight.
func (s *System) Link(ctx context.Context, req LinkRequest) (Accepted, error) {
	from, err := toDomain(req.From)
	if err != nil {
		return Accepted{}, err
	}
	to, err := toDomain(req.To)
	if err != nil {
		return Accepted{}, err
	}
	weight := DefaultLinkWeight
	if req.Weight != nil {
		weight = *req.Weight
	}
	acc, err := s.sys.Commands.Link.Handle(ctx, commands.LinkMemories{Caller: s.cmdCaller(),
		LinkMemories: domain.LinkMemories{From: from, To: to, Type: req.Type, Weight: weight}})
	if err != nil {
		return Accepted{}, classify(err)
	}
	return s.accepted(acc), nil
}

// Unlink removes the edge from→to.
func (s *System) Unlink(ctx context.Context, from, to Coordinate) (Accepted, error) {
	f, err := toDomain(from)
	if err != nil {
		return Accepted{}, err
	}
	t, err := toDomain(to)
	if err != nil {
		return Accepted{}, err
	}
	acc, err := s.sys.Commands.Unlink.Handle(ctx, commands.UnlinkMemories{Caller: s.cmdCaller(), From: f, To: t})
	if err != nil {
		return Accepted{}, classify(err)
	}
	return s.accepted(acc), nil
}

// Delete removes the memory at coord, its vector and its edges.
func (s *System) Delete(ctx context.Context, coord Coordinate) (DeleteResult, error) {
	c, err := toDomain(coord)
	if err != nil {
		return DeleteResult{}, err
	}
	res, err := s.sys.Commands.Delete.Handle(ctx, commands.DeleteMemory{Caller: s.cmdCaller(), Coordinate: c})
	if err != nil {
		return DeleteResult{}, classify(err)
	}
	return DeleteResult{Accepted: s.accepted(res.Accepted), Deleted: res.Existed}, nil
}

// DeleteMany deletes every coordinate.
func (s *System) DeleteMany(ctx context.Context, coords []Coordinate) (DeleteResult, error) {
	cs := make([]domain.Coordinate, len(coords))
	for i, co := range coords {
		c, err := toDomain(co)
		if err != nil {
			return DeleteResult{}, fmt.Errorf("coords[%d]: %w", i, err)
		}
		cs[i] = c
	}
	res, err := s.sys.Commands.DeleteMany.Handle(ctx, commands.DeleteMany{Caller: s.cmdCaller(), Coordinates: cs})
	if err != nil {
		return DeleteResult{}, classify(err)
	}
	return DeleteResult{Accepted: s.accepted(res.Accepted), Deleted: res.Existed}, nil
}

// SetImportance sets the raw importance of the memory at coord.
func (s *System) SetImportance(ctx context.Context, coord Coordinate, importance float64) (ImportanceResult, error) {
	c, err := toDomain(coord)
	if err != nil {
		return ImportanceResult{}, err
	}
	res, err := s.sys.Commands.SetImportance.Handle(ctx, commands.SetImportance{Caller: s.cmdCaller(), Coordinate: c, Importance: importance})
	if err != nil {
		return ImportanceResult{}, classify(err)
	}
	return ImportanceResult{Accepted: s.accepted(res.Accepted), ImportanceNorm: res.ImportanceNorm}, nil
}

// Get returns the memory at coord.
func (s *System) Get(ctx context.Context, coord Coordinate) (Record, error) {
	c, err := toDomain(coord)
	if err != nil {
		return Record{}, err
	}
	m, err := s.sys.Queries.GetMemory.Handle(ctx, queries.GetMemory{Caller: s.queryCaller(), Coordinate: c})
	if err != nil {
		return Record{}, classifyQuery(ctx, err)
	}
	return recordOf(m), nil
}

func (s *System) recallQuery(req RecallRequest) queries.Recall {
	k := req.TopK
	if k == 0 {
		k = queries.DefaultTopK
	}
	return queries.Recall{Caller: s.queryCaller(), Query: req.Query, TopK: k, Type: string(req.Type), Filters: req.Filters}
}

// Recall returns the best matches of req.Query, best first.
func (s *System) Recall(ctx context.Context, req RecallRequest) ([]Record, error) {
	ms, err := s.sys.Queries.Recall.Handle(ctx, s.recallQuery(req))
	if err != nil {
		return nil, classifyQuery(ctx, err)
	}
	out := make([]Record, len(ms))
	for i, m := range ms {
		out[i] = recordOf(m.Memory)
	}
	return out, nil
}

// RecallWithScores is Recall with the parts of each score.
func (s *System) RecallWithScores(ctx context.Context, req RecallRequest) ([]ScoredRecord, error) {
	ms, err := s.sys.Queries.RecallWithScores.Handle(ctx, queries.RecallWithScores{Recall: s.recallQuery(req)})
	if err != nil {
		return nil, classifyQuery(ctx, err)
	}
	out := make([]ScoredRecord, len(ms))
	for i, m := range ms {
		out[i] = ScoredRecord{Record: recordOf(m.Memory), Cosine: m.Cosine, ImportanceNorm: m.ImportanceNorm, Score: m.Score}
	}
	return out, nil
}

// Neighbors returns the outgoing edges of coord in insertion order.
func (s *System) Neighbors(ctx context.Context, coord Coordinate, opts NeighborsOptions) ([]Edge, error) {
	c, err := toDomain(coord)
	if err != nil {
		return nil, err
	}
	limit := opts.Limit
	if limit == 0 {
		limit = queries.DefaultNeighborLimit
	}
	ls, err := s.sys.Queries.Neighbors.Handle(ctx, queries.Neighbors{Caller: s.queryCaller(), Coordinate: c, LinkType: opts.Type, Limit: limit})
	if err != nil {
		return nil, classifyQuery(ctx, err)
	}
	out := make([]Edge, len(ls))
	for i, l := range ls {
		out[i] = Edge{From: fromDomain(l.From), To: fromDomain(l.To), Type: l.Type, Weight: l.Weight, Timestamp: l.CreatedAt}
	}
	return out, nil
}

// ShortestPath returns the cheapest path from→to.
func (s *System) ShortestPath(ctx context.Context, from, to Coordinate, linkType string) ([]Coordinate, error) {
	f, err := toDomain(from)
	if err != nil {
		return nil, err
	}
	t, err := toDomain(to)
	if err != nil {
		return nil, err
	}
	cs, err := s.sys.Queries.ShortestPath.Handle(ctx, queries.ShortestPath{Caller: s.queryCaller(), From: f, To: t, LinkType: linkType})
	if err != nil {
		return nil, classifyQuery(ctx, err)
	}
	return coordsOf(cs), nil
}

// Range returns the coordinates within [req.Min, req.Max].
func (s *System) Range(ctx context.Context, req RangeRequest) ([]Coordinate, error) {
	lo, err := toDomain(req.Min)
	if err != nil {
		return nil, err
	}
	hi, err := toDomain(req.Max)
	if err != nil {
		return nil, err
	}
	cs, err := s.sys.Queries.Range.Handle(ctx, queries.Range{Caller: s.queryCaller(), Min: lo, Max: hi, Type: string(req.Type)})
	if err != nil {
		return nil, classifyQuery(ctx, err)
	}
	return coordsOf(cs), nil
}

// Stats counts the namespace's memories.
func (s *System) Stats(ctx context.Context) (Stats, error) {
	st, err := s.sys.Queries.Stats.Handle(ctx, queries.GetStats{Caller: s.queryCaller()})
	if err != nil {
		return Stats{}, classifyQuery(ctx, err)
	}
	return Stats{TotalMemories: st.Total, Episodic: st.Episodic, Semantic: st.Semantic}, nil
}

// Export writes the namespace to w as NDJSON, the format of GET
// /export?links=true: the records, then their edges as link lines. It
// returns how many records it wrote.
func (s *System) Export(ctx context.Context, w io.Writer) (int, error) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	n := 0
	q := queries.Export{Caller: s.queryCaller(), Links: func(l domain.Link) error { return enc.Encode(l.ExportLine()) }}
	err := s.sys.Queries.Export.Handle(ctx, q, func(m domain.Memory) error {
		n++
		return enc.Encode(m.Record())
	})
	if err != nil {
		return n, classifyQuery(ctx, err)
	}
	return n, nil
}

// Import stores the NDJSON records of r, then re-creates its edges. On
// failure it returns, with the error, what was imported before it (the
// counts and the consistency token of those writes), as the Client does.
func (s *System) Import(ctx context.Context, r io.Reader, replace bool) (ImportResult, error) {
	res, err := s.sys.Commands.Import.Handle(ctx, commands.ImportMemories{Caller: s.cmdCaller(), Body: r, Replace: replace})
	out := ImportResult{Accepted: s.accepted(res.Accepted), Imported: res.Imported, Skipped: res.Skipped, Links: res.Linked}
	if err != nil {
		return out, classify(err)
	}
	return out, nil
}

// commandItem validates a request's coordinate and copies its payload.
func commandItem(req StoreRequest) (commands.StoreItem, error) {
	c, err := toDomain(req.Coordinate)
	if err != nil {
		return commands.StoreItem{}, err
	}
	payload := req.Payload
	if payload == nil {
		payload = map[string]any{}
	}
	return commands.StoreItem{Coordinate: c, Payload: normalizePayload(payload), Type: string(req.Type), Embedding: req.Vector}, nil
}

// normalizePayload gives the payload the shape a JSON request body has
// (numbers as json.Number, nested maps and slices of any), so a Go caller
// may pass ints, structs or typed slices.
func normalizePayload(p map[string]any) map[string]any {
	b, err := json.Marshal(p)
	if err != nil {
		return p // the command's validation reports what cannot be encoded
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil || out == nil {
		return p
	}
	return out
}

func toDomain(c Coordinate) (domain.Coordinate, error) {
	d, err := domain.NewCoordinate(c)
	if err != nil {
		return domain.Coordinate{}, invalid(err)
	}
	return d, nil
}

func fromDomain(c domain.Coordinate) Coordinate { return Coordinate(c.Values()) }

func coordsOf(cs []domain.Coordinate) []Coordinate {
	out := make([]Coordinate, len(cs))
	for i, c := range cs {
		out[i] = fromDomain(c)
	}
	return out
}

// recordOf is the client record of a memory, as the API renders it.
func recordOf(m domain.Memory) Record {
	r := Record{Coordinate: fromDomain(m.Coordinate), Type: MemoryType(m.Type), ImportanceNorm: m.ImportanceNorm, Payload: maps.Clone(m.Payload)}
	if r.Payload == nil {
		r.Payload = map[string]any{}
	}
	if v, ok := r.Payload[KeyTimestamp]; ok {
		var f float64
		var numeric bool
		switch t := v.(type) {
		case json.Number:
			x, err := t.Float64()
			f, numeric = x, err == nil
		case float64:
			f, numeric = t, true
		}
		if numeric {
			r.Timestamp = &f
			delete(r.Payload, KeyTimestamp)
		}
	}
	return r
}

// classifiedError keeps an error's text and chain and adds the sentinels
// of its meaning.
type classifiedError struct {
	err       error
	sentinels []error
}

func (e *classifiedError) Error() string { return e.err.Error() }
func (e *classifiedError) Unwrap() []error {
	return append([]error{e.err}, e.sentinels...)
}

// classify maps the use cases' errors to the sentinels the HTTP client
// returns for the same answers.
func classify(err error) error {
	var (
		ve  domain.ValidationErrors
		lag *queries.LagError
	)
	var sentinels []error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrUnavailable):
		return err
	case errors.As(err, &ve), errors.Is(err, domain.ErrInvalidCoordinate), errors.Is(err, queries.ErrSearchLimit):
		sentinels = []error{ErrInvalid}
	case errors.Is(err, domain.ErrMemoryNotFound):
		sentinels = []error{ErrNotFound}
	case errors.Is(err, queries.ErrModelMismatch):
		sentinels = []error{ErrConflict}
	case errors.As(err, &lag):
		sentinels = []error{ErrUnavailable, ErrConsistencyLag}
	case errors.Is(err, commands.ErrUnavailable), errors.Is(err, queries.ErrUnavailable):
		sentinels = []error{ErrUnavailable}
	default:
		return err
	}
	return &classifiedError{err: err, sentinels: sentinels}
}

// classifyQuery is classify for the query side, whose HTTP layer also
// answers 503 for a deadline that expired inside the query (a bounded
// wait, e.g. for the read models to reach the consistency token): such a
// deadline is ErrUnavailable while the caller's ctx is still live. The
// caller's own expired deadline stays context.DeadlineExceeded only.
func classifyQuery(ctx context.Context, err error) error {
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrUnavailable) {
		return &classifiedError{err: err, sentinels: []error{ErrUnavailable}}
	}
	return classify(err)
}
