package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/somafractalmemory/soma/commands"
	cmdhttp "github.com/somafractalmemory/soma/commands/httpapi"
	"github.com/somafractalmemory/soma/internal/config"
	"github.com/somafractalmemory/soma/internal/httpx"
	"github.com/somafractalmemory/soma/projections"
	"github.com/somafractalmemory/soma/projections/direct"
	"github.com/somafractalmemory/soma/projections/embedded"
	"github.com/somafractalmemory/soma/queries"
	qhttp "github.com/somafractalmemory/soma/queries/httpapi"
)

// System is the memory system assembled in one process: the command and
// query use cases over the configured stores (the embedded store for
// whatever is not configured), and the jobs that keep the read models up
// to date. Run runs the jobs; Runtime.Close releases everything.
type System struct {
	Commands *commands.Application
	Queries  *queries.Application
	// Mode describes the write path ("direct writes" or "evented (Kafka topic)").
	Mode string
	// Stores names the read models in use.
	Stores string

	rt     *Runtime
	jobs   []func(context.Context) error
	checks map[string]httpx.Check
	store  *embedded.Store
}

// Run runs the system's background jobs (projection workers, catch-up,
// eviction and decay) until ctx ends or one fails.
func (s *System) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, job := range s.jobs {
		g.Go(func() error { return job(gctx) })
	}
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Assemble builds the whole system in this process. With MEMORY_MODE=test
// the embedded store lives in a temporary directory removed on Close.
// ctx bounds the system's lifetime (listeners and subscriptions end with it).
func (rt *Runtime) Assemble(ctx context.Context) (*System, error) {
	cfg := rt.cfg
	if cfg.Mode == config.ModeTest {
		dir, err := os.MkdirTemp("", "soma-test-*")
		if err != nil {
			return nil, err
		}
		rt.onClose(func() { _ = os.RemoveAll(dir) })
		cfg.DataDir = dir
		rt.cfg.DataDir = dir
	}
	local, err := rt.localCodec()
	if err != nil {
		return nil, err
	}
	var models readModels
	var sink commands.EventSink
	logCodec := local // the codec of the Postgres event_log bodies
	var jobs []func(context.Context) error
	var store *embedded.Store

	openEmbedded := func() error {
		emb, err := rt.embedder()
		if err != nil {
			return err
		}
		s, err := embedded.Open(ctx, embedded.Config{Dir: cfg.DataDir, Encoder: bodyEncoder{local}, Decoder: bodyEncoder{local}, EmbeddingModel: emb.Model()})
		if err != nil {
			return fmt.Errorf("embedded store in %s: %w", cfg.DataDir, err)
		}
		store = s
		rt.onClose(func() { _ = s.Close() })
		return nil
	}

	if cfg.Kafka.Enabled {
		codec, err := rt.registryCodec(ctx)
		if err != nil {
			return nil, err
		}
		if models, err = rt.externalReadModels(ctx, codec, true); err != nil {
			return nil, err
		}
		logCodec = codec
		if models.postgres == nil || models.qdrant == nil {
			if err := openEmbedded(); err != nil {
				return nil, err
			}
		}
		pub, err := rt.publisher(ctx, codec)
		if err != nil {
			return nil, err
		}
		sink = pub
		var extra []projections.Projection
		if store != nil {
			extra = append(extra, store)
		}
		p, err := rt.projectorFor(ctx, codec, models, extra)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, func(ctx context.Context) error { return p.run(ctx, "") })
	} else {
		if models, err = rt.externalReadModels(ctx, local, true); err != nil {
			return nil, err
		}
		if models.postgres == nil || models.qdrant == nil {
			if err := openEmbedded(); err != nil {
				return nil, err
			}
		}
		var log direct.Log = embeddedLog{store}
		others := []projections.Projection{}
		if models.postgres != nil {
			log = models.postgres
			if store != nil {
				others = append(others, store)
			}
		}
		if models.qdrant != nil {
			others = append(others, models.qdrant)
		}
		if models.redis != nil {
			others = append(others, models.redis)
		}
		ds := direct.New(log, others, cfg.HTTP.PublishTimeout, rt.log)
		sink = ds
		rt.onClose(ds.Close)
		jobs = append(jobs, func(ctx context.Context) error { return ds.CatchUp(ctx, 5*time.Second) })
	}

	var dir commands.Directory
	switch {
	case models.postgres != nil:
		dir = directoryFunc(models.postgres.Exists)
	case store != nil:
		dir = directoryFunc(store.Existing)
	}
	emb, err := rt.embedder()
	if err != nil {
		return nil, err
	}
	ws := &writeSide{app: commands.NewApplication(commands.Deps{Sink: sink, Directory: dir, Embedder: emb}), checks: rt.readinessChecks(models, store), models: models}
	if job := rt.policyJob(ctx, ws.app, models, store); job != nil {
		jobs = append(jobs, job)
	}
	qapp, err := rt.queryApp(ctx, models, store, logCodec)
	if err != nil {
		return nil, err
	}

	mode := "direct writes"
	if cfg.Kafka.Enabled {
		mode = "evented (Kafka " + cfg.Kafka.Topic + ")"
	}
	return &System{Commands: ws.app, Queries: qapp, Mode: mode, Stores: describeStores(models, store), rt: rt, jobs: jobs, checks: ws.checks, store: store}, nil
}

// Serve runs the whole system on the two listeners until ctx ends: :9595
// serves commands and queries (the original single-port API), :9596
// queries only. say prints the start-up banner.
func (rt *Runtime) Serve(ctx context.Context, apiLn, queryLn net.Listener, say func(string)) error {
	start := time.Now()
	sys, err := rt.Assemble(ctx)
	if err != nil {
		return err
	}
	cfg, store := rt.cfg, sys.store
	// :9595 serves commands and queries (the original single-port API);
	// :9596 serves queries only.
	both, err := ServeOpenAPI()
	if err != nil {
		return err
	}
	hc := rt.httpConfig("soma")
	hc.RouteMaxBodyBytes = map[string]int64{}
	for _, r := range cmdhttp.BulkRoutes {
		hc.RouteMaxBodyBytes[r] = cfg.HTTP.MaxBulkBodyBytes
	}
	apiSrv, err := rt.httpServer(ctx, hc, both, sys.checks)
	if err != nil {
		return err
	}
	idem, err := rt.idempotencyStore(ctx)
	if err != nil {
		return err
	}
	stored, err := httpx.NewStoreCounter(rt.reg)
	if err != nil {
		return err
	}
	cmdhttp.Register(apiSrv.API, sys.Commands, cmdhttp.Options{Idempotency: idem, IdempotencyTTL: cfg.HTTP.IdempotencyTTL, Stored: stored})
	qhttp.Register(apiSrv.API, sys.Queries, qhttp.Options{})
	querySrv, err := rt.httpServer(ctx, rt.httpConfig("soma-query"), qhttp.OpenAPI(), sys.checks)
	if err != nil {
		return err
	}
	qhttp.Register(querySrv.API, sys.Queries, qhttp.Options{})

	mode, stores := sys.Mode, sys.Stores
	rt.log.Info("soma serve ready", "api", apiLn.Addr().String(), "query", queryLn.Addr().String(), "mode", mode, "stores", stores,
		"start_seconds", time.Since(start).Seconds(), "data_dir", cfg.DataDir)
	if say != nil {
		say(fmt.Sprintf("SomaFractalMemory %s — %s; read models: %s", rt.version, mode, stores))
		say(fmt.Sprintf("  write + query API  http://%s   (docs http://%s/docs)", hostPort(apiLn), hostPort(apiLn)))
		say(fmt.Sprintf("  query API          http://%s   (docs http://%s/docs)", hostPort(queryLn), hostPort(queryLn)))
		if store != nil {
			say(fmt.Sprintf("  embedded store     %s (%d vectors, loaded in %s)", store.Dir(), store.IndexLen(), store.LoadTime().Round(time.Millisecond)))
		}
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return sys.Run(gctx) })
	g.Go(func() error { return apiSrv.Serve(gctx, apiLn) })
	g.Go(func() error { return querySrv.Serve(gctx, queryLn) })
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// readinessChecks of the read models in use.
func (rt *Runtime) readinessChecks(models readModels, store *embedded.Store) map[string]httpx.Check {
	checks := map[string]httpx.Check{}
	for _, p := range models.all() {
		checks[p.Name()] = func(ctx context.Context) error { _, err := p.Positions(ctx, rt.cfg.Kafka.Topic); return err }
	}
	if store != nil {
		checks[store.Name()] = func(ctx context.Context) error { _, err := store.Positions(ctx, rt.cfg.Kafka.Topic); return err }
	}
	return checks
}

func describeStores(models readModels, store *embedded.Store) string {
	s := ""
	for _, p := range models.all() {
		s += p.Name() + " "
	}
	if store != nil {
		s += "embedded"
	}
	return s
}

func hostPort(ln net.Listener) string {
	addr := ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

// ServeOpenAPITitle is the title of the document soma serve publishes on
// its write + query port.
const ServeOpenAPITitle = "SomaFractalMemory API (soma serve)"

// ServeOpenAPI is the document soma serve publishes on its write + query
// port: the write and query documents merged.
func ServeOpenAPI() ([]byte, error) {
	return MergeOpenAPI(cmdhttp.OpenAPI(), qhttp.OpenAPI(), ServeOpenAPITitle)
}

// MergeOpenAPI joins the paths of two OpenAPI documents under a new title.
func MergeOpenAPI(a, b []byte, title string) ([]byte, error) {
	var da, db map[string]any
	if err := json.Unmarshal(a, &da); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &db); err != nil {
		return nil, err
	}
	pa, _ := da["paths"].(map[string]any)
	pb, _ := db["paths"].(map[string]any)
	for k, v := range pb {
		pa[k] = v
	}
	if ca, ok := da["components"].(map[string]any); ok {
		if cb, ok := db["components"].(map[string]any); ok {
			for section, items := range cb {
				dst, _ := ca[section].(map[string]any)
				if dst == nil {
					ca[section] = items
					continue
				}
				for k, v := range items.(map[string]any) {
					dst[k] = v
				}
			}
		}
	} else if cb, ok := db["components"]; ok {
		da["components"] = cb
	}
	if info, ok := da["info"].(map[string]any); ok {
		info["title"] = title
		if ib, ok := db["info"].(map[string]any); ok {
			da, _ := info["description"].(string)
			dq, _ := ib["description"].(string)
			info["description"] = "Commands and queries on one port.\n\n## Commands\n\n" + da + "\n\n## Queries\n\n" + dq
		}
	}
	return json.Marshal(da)
}
