package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"golang.org/x/sync/errgroup"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/commands/eventbus"
	"github.com/somafractalmemory/soma/commands/httpapi"
	"github.com/somafractalmemory/soma/commands/policies"
	"github.com/somafractalmemory/soma/internal/httpx"
	"github.com/somafractalmemory/soma/internal/kafkaconf"
	"github.com/somafractalmemory/soma/projections"
	"github.com/somafractalmemory/soma/projections/direct"
	"github.com/somafractalmemory/soma/projections/embedded"
)

// RunAPI runs the write API (commands) on SOMA_API_ADDR until ctx ends.
func (rt *Runtime) RunAPI(ctx context.Context) error {
	ws, err := rt.writeSide(ctx)
	if err != nil {
		return err
	}
	srv, err := rt.commandServer(ctx, ws)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, job := range ws.jobs {
		g.Go(func() error { return job(gctx) })
	}
	g.Go(func() error {
		rt.log.Info("write API listening", "addr", rt.cfg.HTTP.APIAddr, "evented", rt.cfg.Kafka.Enabled)
		return srv.Run(gctx, rt.cfg.HTTP.APIAddr)
	})
	return g.Wait()
}

// writeSide is what the command routes need.
type writeSide struct {
	app    *commands.Application
	checks map[string]httpx.Check
	jobs   []func(context.Context) error
	models readModels
}

// writeSide builds the command handlers over the event sink of the mode:
// the Kafka topic (evented) or the read models directly.
func (rt *Runtime) writeSide(ctx context.Context) (*writeSide, error) {
	emb, err := rt.embedder()
	if err != nil {
		return nil, err
	}
	ws := &writeSide{checks: map[string]httpx.Check{}}
	var sink commands.EventSink
	if rt.cfg.Kafka.Enabled {
		codec, err := rt.registryCodec(ctx)
		if err != nil {
			return nil, err
		}
		pub, err := rt.publisher(ctx, codec)
		if err != nil {
			return nil, err
		}
		sink = pub
		ws.models, err = rt.externalReadModels(ctx, codec, false)
		if err != nil {
			return nil, err
		}
	} else {
		codec, err := rt.localCodec()
		if err != nil {
			return nil, err
		}
		ws.models, err = rt.externalReadModels(ctx, codec, true)
		if err != nil {
			return nil, err
		}
		if ws.models.postgres == nil {
			return nil, errors.New("direct-write mode of `soma api` needs POSTGRES_URL (the event_log); use `soma serve` for the embedded store")
		}
		others := []projections.Projection{}
		if ws.models.qdrant != nil {
			others = append(others, ws.models.qdrant)
		}
		if ws.models.redis != nil {
			others = append(others, ws.models.redis)
		}
		ds := direct.New(ws.models.postgres, others, rt.cfg.HTTP.PublishTimeout, rt.log)
		sink = ds
		rt.onClose(ds.Close)
		ws.jobs = append(ws.jobs, func(ctx context.Context) error { return ds.CatchUp(ctx, 5*time.Second) })
	}
	var dir commands.Directory
	if ws.models.postgres != nil {
		dir = directoryFunc(ws.models.postgres.Exists)
	}
	if ws.models.postgres != nil {
		pg := ws.models.postgres
		ws.checks["postgres"] = func(ctx context.Context) error { _, err := pg.Positions(ctx, rt.cfg.Kafka.Topic); return err }
	}
	ws.app = commands.NewApplication(commands.Deps{Sink: sink, Directory: dir, Embedder: emb})
	if job := rt.policyJob(ctx, ws.app, ws.models, nil); job != nil {
		ws.jobs = append(ws.jobs, job)
	}
	return ws, nil
}

// policyJob runs eviction and decay when configured, reading candidates
// from Postgres, else from the embedded store; nil when there is nothing
// to run.
func (rt *Runtime) policyJob(ctx context.Context, app *commands.Application, models readModels, store *embedded.Store) func(context.Context) error {
	p := rt.cfg.Policies
	if p.MaxMemorySize <= 0 && !p.DecayEnabled {
		return nil
	}
	var reader policies.Reader
	switch {
	case models.postgres != nil:
		pool, err := rt.postgres(ctx)
		if err != nil || pool == nil {
			return nil
		}
		reader = policies.NewPostgres(pool, rt.cfg.Postgres.Schema)
	case store != nil:
		reader = store
	default:
		return nil
	}
	rules := make([]policies.Rule, len(p.DecayRules))
	for i, r := range p.DecayRules {
		rules[i] = policies.Rule{Age: r.Age, Keys: r.Keys}
	}
	runner := policies.New(reader, app,
		policies.Config{MaxMemorySize: p.MaxMemorySize, DecayEnabled: p.DecayEnabled, Rules: rules, Interval: p.PolicyInterval}, rt.log)
	return runner.Run
}

// commandServer mounts the command routes on a new API engine.
func (rt *Runtime) commandServer(ctx context.Context, ws *writeSide) (*httpx.Server, error) {
	hc := rt.httpConfig("soma-api")
	hc.RouteMaxBodyBytes = map[string]int64{}
	for _, r := range httpapi.BulkRoutes {
		hc.RouteMaxBodyBytes[r] = rt.cfg.HTTP.MaxBulkBodyBytes
	}
	srv, err := rt.httpServer(ctx, hc, httpapi.OpenAPI(), ws.checks)
	if err != nil {
		return nil, err
	}
	idem, err := rt.idempotencyStore(ctx)
	if err != nil {
		return nil, err
	}
	stored, err := httpx.NewStoreCounter(rt.reg)
	if err != nil {
		return nil, err
	}
	httpapi.Register(srv.API, ws.app, httpapi.Options{Idempotency: idem, IdempotencyTTL: rt.cfg.HTTP.IdempotencyTTL, Stored: stored})
	return srv, nil
}

// publisher connects the producer and ensures the topic.
func (rt *Runtime) publisher(ctx context.Context, codec eventbus.Encoder) (*eventbus.Publisher, error) {
	k := rt.cfg.Kafka
	client, state, err := rt.producerClient(ctx, rt.cfg.HTTP.PublishTimeout, kafkaconf.TopicSpec{Name: k.Topic, Partitions: k.Partitions, ReplicationFactor: k.ReplicationFactor, AllowFiniteRetention: k.AllowFiniteRetention})
	if err != nil {
		return nil, err
	}
	if state.Created {
		rt.log.Info("event topic created", "topic", k.Topic, "partitions", state.Partitions)
	} else if state.Partitions != k.Partitions {
		rt.log.Warn("event topic has another partition count than configured; keeping it", "topic", k.Topic, "partitions", state.Partitions, "configured", k.Partitions)
	}
	prod, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	pub := eventbus.New(prod, codec, eventbus.Config{Topic: k.Topic, Timeout: rt.cfg.HTTP.PublishTimeout})
	rt.onClose(func() { _ = pub.Close() })
	return pub, nil
}

// producerClient connects a producer client (timeout bounds its sends)
// and creates or verifies the topic of spec.
func (rt *Runtime) producerClient(ctx context.Context, timeout time.Duration, spec kafkaconf.TopicSpec) (sarama.Client, kafkaconf.TopicState, error) {
	pcfg, err := rt.cfg.Kafka.Settings.Producer(timeout)
	if err != nil {
		return nil, kafkaconf.TopicState{}, err
	}
	client, err := rt.saramaClient(ctx, pcfg)
	if err != nil {
		return nil, kafkaconf.TopicState{}, err
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		return nil, kafkaconf.TopicState{}, fmt.Errorf("kafka admin: %w", err)
	}
	state, err := kafkaconf.EnsureTopic(admin, spec)
	if err != nil {
		return nil, kafkaconf.TopicState{}, fmt.Errorf("topic %s: %w", spec.Name, err)
	}
	return client, state, nil
}

// directoryFunc adapts a read model's existence check to commands.Directory.
type directoryFunc func(ctx context.Context, ns string, keys []string) (map[string]bool, error)

func (f directoryFunc) Existing(ctx context.Context, ns string, keys []string) (map[string]bool, error) {
	return f(ctx, ns, keys)
}
