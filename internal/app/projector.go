package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/somafractalmemory/soma/internal/kafkaconf"
	"github.com/somafractalmemory/soma/projections"
	"github.com/somafractalmemory/soma/projections/runner"
	"github.com/somafractalmemory/soma/schemas"
)

// GroupName is the consumer group of a read model: <prefix>.projection.<name>.v1.
// The suffix is part of the contract: changing it starts a new group.
func groupName(prefix, readModel string) string {
	return prefix + ".projection." + readModel + ".v1"
}

// RunProjector runs the projection workers of the configured read models
// (one consumer group each) with their ops endpoint on addr until ctx ends.
func (rt *Runtime) RunProjector(ctx context.Context, addr string) error {
	if !rt.cfg.Kafka.Enabled {
		return errors.New("soma projector needs KAFKA_BOOTSTRAP_SERVERS (and EVENTING_ENABLED=true)")
	}
	p, err := rt.projector(ctx, nil)
	if err != nil {
		return err
	}
	return p.run(ctx, addr)
}

// projector is a set of runners and their ops endpoint.
type projector struct {
	rt      *Runtime
	runners []*runner.Runner
}

// projector builds one runner per configured read model, plus extra.
func (rt *Runtime) projector(ctx context.Context, extra []projections.Projection) (*projector, error) {
	codec, err := rt.registryCodec(ctx)
	if err != nil {
		return nil, err
	}
	models, err := rt.externalReadModels(ctx, codec, true)
	if err != nil {
		return nil, err
	}
	return rt.projectorFor(ctx, codec, models, extra)
}

// projectorFor builds one runner per read model of models, plus extra
// (the embedded store when serving in one process).
func (rt *Runtime) projectorFor(ctx context.Context, codec *schemas.Codec, models readModels, extra []projections.Projection) (*projector, error) {
	targets := append(models.all(), extra...)
	if len(targets) == 0 {
		return nil, errors.New("no read model configured (POSTGRES_URL, QDRANT_URL/QDRANT_HOST, REDIS_URL/REDIS_HOST)")
	}
	k := rt.cfg.Kafka
	dlq, err := rt.deadLetters(ctx)
	if err != nil {
		return nil, err
	}
	m, err := runner.NewMetrics(rt.reg)
	if err != nil {
		return nil, err
	}
	p := &projector{rt: rt}
	for _, t := range targets {
		ccfg, err := k.Settings.Consumer()
		if err != nil {
			return nil, err
		}
		client, err := rt.saramaClient(ctx, ccfg)
		if err != nil {
			return nil, err
		}
		r, err := runner.New(t, client, codec, schemas.Permanent, dlq, m, runner.Config{
			Topic: k.Topic, Group: groupName(k.ConsumerGroupPrefix, t.Name()),
			BatchSize: rt.cfg.Projection.BatchSize, BatchWait: rt.cfg.Projection.BatchWait,
		}, rt.log)
		if err != nil {
			return nil, err
		}
		rt.onClose(func() { _ = r.Close() })
		p.runners = append(p.runners, r)
	}
	return p, nil
}

// deadLetters publishes to the DLQ topic through watermill-kafka.
func (rt *Runtime) deadLetters(ctx context.Context) (runner.DeadLetters, error) {
	k := rt.cfg.Kafka
	client, _, err := rt.producerClient(ctx, 10*time.Second, kafkaconf.TopicSpec{Name: k.DLQTopic, Partitions: k.Partitions, ReplicationFactor: k.ReplicationFactor, AllowFiniteRetention: true})
	if err != nil {
		return nil, fmt.Errorf("dead-letter topic: %w", err)
	}
	pcfg := client.Config()
	pub, err := wkafka.NewPublisher(wkafka.PublisherConfig{
		Brokers: k.Settings.Brokers, Marshaler: runner.DLQMarshaler(), OverwriteSaramaConfig: pcfg,
	}, watermill.NewSlogLogger(rt.log))
	if err != nil {
		return nil, fmt.Errorf("dead-letter publisher: %w", err)
	}
	rt.onClose(func() { _ = pub.Close() })
	return runner.NewKafkaDeadLetters(pub, k.DLQTopic), nil
}

// run runs every runner and the ops endpoint until ctx ends.
func (p *projector) run(ctx context.Context, addr string) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, r := range p.runners {
		g.Go(func() error { return r.Run(ctx) })
	}
	if addr != "" {
		srv := &http.Server{Addr: addr, Handler: p.opsHandler(), ReadHeaderTimeout: 5 * time.Second}
		g.Go(func() error {
			p.rt.log.Info("projector ops endpoint listening", "addr", addr, "read_models", len(p.runners))
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
		g.Go(func() error {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		})
	}
	return g.Wait()
}

// opsHandler serves /healthz, /readyz (every runner not stalled) and
// /metrics.
func (p *projector) opsHandler() http.Handler {
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "service": "soma-projector", "version": p.rt.version})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		checks := map[string]string{}
		ok := true
		for _, r := range p.runners {
			name := r.Name()
			if err := r.Ready(); err != nil {
				checks[name] = err.Error()
				ok = false
			} else {
				checks[name] = "ok"
			}
		}
		if !ok {
			w.Header().Set("Retry-After", strconv.Itoa(5))
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "checks": checks})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "checks": checks})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.rt.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not Found"})
	})
	return mux
}
