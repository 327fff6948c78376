package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
	"github.com/schollz/progressbar/v3"

	"github.com/somafractalmemory/soma/projections"
	"github.com/somafractalmemory/soma/projections/direct"
	"github.com/somafractalmemory/soma/projections/embedded"
	pgproj "github.com/somafractalmemory/soma/projections/postgres"
	qproj "github.com/somafractalmemory/soma/projections/qdrant"
	rproj "github.com/somafractalmemory/soma/projections/redis"
	"github.com/somafractalmemory/soma/schemas"
)

// ErrNotInUse: the read model asked for is not configured (a usage error).
var ErrNotInUse = errors.New("not in use")

// ReplayOptions choose what soma replay rebuilds.
type ReplayOptions struct {
	// Projection is postgres, qdrant, redis, embedded or all.
	Projection string
	// DropOld removes the previous generation after the switch.
	DropOld bool
	// InPlace rebuilds and replaces the serving generation (implies DropOld).
	InPlace bool
	// Force runs even while the read model's consumer group has members.
	Force bool
	// Batch is the number of events per read-model transaction.
	Batch int
}

// generation is a read model being rebuilt.
type generation struct {
	name    string
	proj    projections.Projection
	promote func(ctx context.Context) error
	dropOld func(ctx context.Context) error
	where   string
}

// Replay rebuilds the chosen read models from the log into a new generation
// and switches to it once caught up; progress goes to out.
func (rt *Runtime) Replay(ctx context.Context, o ReplayOptions, out io.Writer) error {
	if o.InPlace {
		o.DropOld = true
	}
	suffix := fmt.Sprintf("g%d", time.Now().Unix())
	codec, err := rt.localCodec()
	if err != nil {
		return err
	}
	if rt.cfg.Kafka.Enabled {
		if codec, err = rt.registryCodec(ctx); err != nil {
			return err
		}
	}
	want := func(name string) bool { return o.Projection == "all" || o.Projection == name }
	var gens []generation

	if want(projections.Postgres) && rt.cfg.Postgres.URL != "" {
		g, err := rt.postgresGeneration(ctx, codec, suffix)
		if err != nil {
			return err
		}
		gens = append(gens, g)
	}
	if want(projections.Qdrant) && rt.cfg.Qdrant.Host != "" {
		g, err := rt.qdrantGeneration(ctx, suffix)
		if err != nil {
			return err
		}
		gens = append(gens, g)
	}
	if want(projections.Redis) && rt.cfg.Redis.URL != "" {
		g, err := rt.redisGeneration(ctx, suffix)
		if err != nil {
			return err
		}
		gens = append(gens, g)
	}
	var oldStore *embedded.Store
	if want(projections.Embedded) && (rt.cfg.Postgres.URL == "" || rt.cfg.Qdrant.Host == "") {
		g, old, err := rt.embeddedGeneration(ctx, suffix)
		if err != nil {
			return err
		}
		oldStore = old
		gens = append(gens, g)
	}
	if len(gens) == 0 {
		return fmt.Errorf("%w: read model %q with this configuration", ErrNotInUse, o.Projection)
	}

	for _, g := range gens {
		if rt.cfg.Kafka.Enabled && !o.Force {
			if err := rt.groupIdle(ctx, groupName(rt.cfg.Kafka.ConsumerGroupPrefix, g.name)); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "replaying %s into %s\n", g.name, g.where)
		start := time.Now()
		var n int64
		if rt.cfg.Kafka.Enabled {
			n, err = rt.replayFromTopic(ctx, codec, g.proj, o.Batch, out)
		} else {
			log, lerr := rt.directLog(ctx, codec, oldStore)
			if lerr != nil {
				return lerr
			}
			n, err = replayFromLog(ctx, log, g.proj, o.Batch, out)
		}
		if err != nil {
			return fmt.Errorf("replay %s: %w", g.name, err)
		}
		if err := g.promote(ctx); err != nil {
			return fmt.Errorf("switch %s: %w", g.name, err)
		}
		el := time.Since(start)
		fmt.Fprintf(out, "%s: %d events in %s (%.0f events/s); switched: the rebuilt %s now serves\n", g.name, n, el.Round(time.Millisecond), float64(n)/el.Seconds(), g.where)
		if o.DropOld && g.dropOld != nil {
			if err := g.dropOld(ctx); err != nil {
				return fmt.Errorf("drop old %s generation: %w", g.name, err)
			}
			fmt.Fprintf(out, "%s: previous generation dropped\n", g.name)
		}
	}
	return nil
}

// groupIdle refuses to replay while the read model's projector runs.
func (rt *Runtime) groupIdle(ctx context.Context, group string) error {
	cfg, err := rt.cfg.Kafka.Settings.Base()
	if err != nil {
		return err
	}
	client, err := rt.saramaClient(ctx, cfg)
	if err != nil {
		return err
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		return err
	}
	groups, err := admin.DescribeConsumerGroups([]string{group})
	if err != nil {
		return fmt.Errorf("describe consumer group %s: %w", group, err)
	}
	for _, g := range groups {
		if len(g.Members) > 0 {
			return fmt.Errorf("consumer group %s has %d active member(s): stop that projector first (or pass --force)", group, len(g.Members))
		}
	}
	return nil
}

// directLog is the event_log of direct-write mode.
func (rt *Runtime) directLog(ctx context.Context, codec *schemas.Codec, store *embedded.Store) (direct.Log, error) {
	if rt.cfg.Postgres.URL != "" {
		pool, err := rt.postgres(ctx)
		if err != nil {
			return nil, err
		}
		return pgproj.New(pool, pgproj.Config{Schema: rt.cfg.Postgres.Schema, Encoder: bodyEncoder{codec}, Decoder: bodyEncoder{codec}}), nil
	}
	if store == nil {
		return nil, errors.New("no event_log: direct mode keeps it in Postgres or in the embedded store")
	}
	return embeddedLog{store}, nil
}

func replayFromLog(ctx context.Context, log direct.Log, p projections.Projection, batch int, out io.Writer) (int64, error) {
	// The length of the event_log is not known up front: report the count
	// and rate about once a second instead of a bar.
	var n int64
	start, last := time.Now(), time.Now()
	err := direct.CatchUpProgress(ctx, log, p, batch, func(applied int64, k int) {
		n += int64(k)
		if time.Since(last) >= time.Second {
			last = time.Now()
			fmt.Fprintf(out, "%s: %d events (%.0f/s), at sequence %d\n", p.Name(), n, float64(n)/time.Since(start).Seconds(), applied)
		}
	})
	return n, err
}

// replayFromTopic applies every event of the topic up to the high-water
// marks seen at start, partition by partition, in batches.
func (rt *Runtime) replayFromTopic(ctx context.Context, codec *schemas.Codec, p projections.Projection, batch int, out io.Writer) (int64, error) {
	k := rt.cfg.Kafka
	cfg, err := k.Settings.Consumer()
	if err != nil {
		return 0, err
	}
	client, err := rt.saramaClient(ctx, cfg)
	if err != nil {
		return 0, err
	}
	parts, err := client.Partitions(k.Topic)
	if err != nil {
		return 0, err
	}
	type span struct{ from, to int64 }
	spans := map[int32]span{}
	var total int64
	for _, part := range parts {
		lo, err := client.GetOffset(k.Topic, part, sarama.OffsetOldest)
		if err != nil {
			return 0, err
		}
		hi, err := client.GetOffset(k.Topic, part, sarama.OffsetNewest)
		if err != nil {
			return 0, err
		}
		spans[part] = span{lo, hi}
		total += hi - lo
	}
	bar := progressbar.NewOptions64(total, progressbar.OptionSetWriter(out), progressbar.OptionSetDescription(p.Name()),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"),
		progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond))
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return 0, err
	}
	defer consumer.Close()
	var n int64
	for _, part := range parts {
		sp := spans[part]
		if sp.to <= sp.from {
			continue
		}
		pc, err := consumer.ConsumePartition(k.Topic, part, sp.from)
		if err != nil {
			return n, err
		}
		envs := make([]projections.Envelope, 0, batch)
		flush := func() error {
			if len(envs) == 0 {
				return nil
			}
			if err := p.Apply(ctx, envs); err != nil {
				return err
			}
			n += int64(len(envs))
			_ = bar.Add(len(envs))
			envs = envs[:0]
			return nil
		}
		for done := false; !done; {
			select {
			case <-ctx.Done():
				_ = pc.Close() // the error being returned matters more
				return n, ctx.Err()
			case perr := <-pc.Errors():
				_ = pc.Close() // the error being returned matters more
				return n, perr
			case m := <-pc.Messages():
				e, err := codec.Decode(m.Value)
				if err != nil {
					fmt.Fprintf(out, "\nskipping undecodable event %d@%d: %v\n", part, m.Offset, err)
				} else {
					envs = append(envs, projections.Envelope{Event: e, Source: m.Topic, Partition: m.Partition, Offset: m.Offset})
				}
				if len(envs) >= batch {
					if err := flush(); err != nil {
						_ = pc.Close() // the error being returned matters more
						return n, err
					}
				}
				done = m.Offset >= sp.to-1
			}
		}
		if err := flush(); err != nil {
			_ = pc.Close() // the error being returned matters more
			return n, err
		}
		if err := pc.Close(); err != nil {
			return n, fmt.Errorf("close partition %d: %w", part, err)
		}
	}
	_ = bar.Finish()
	fmt.Fprintln(out)
	return n, nil
}

// postgresGeneration migrates a new schema beside the serving one; the
// switch renames both in one transaction.
func (rt *Runtime) postgresGeneration(ctx context.Context, codec *schemas.Codec, suffix string) (generation, error) {
	pool, err := rt.postgres(ctx)
	if err != nil {
		return generation{}, err
	}
	serving := rt.cfg.Postgres.Schema
	next := serving + "_" + suffix
	old := serving + "_old_" + suffix
	if err := pgproj.Migrate(ctx, pool, next); err != nil {
		return generation{}, err
	}
	p := pgproj.New(pool, pgproj.Config{Schema: next, Encoder: bodyEncoder{codec}, Decoder: bodyEncoder{codec}})
	return generation{
		name: projections.Postgres, proj: p, where: "schema " + next,
		promote: func(ctx context.Context) error {
			return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				var exists bool
				if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, serving).Scan(&exists); err != nil {
					return err
				}
				if exists {
					if _, err := tx.Exec(ctx, `ALTER SCHEMA `+pgx.Identifier{serving}.Sanitize()+` RENAME TO `+pgx.Identifier{old}.Sanitize()); err != nil {
						return err
					}
				}
				_, err := tx.Exec(ctx, `ALTER SCHEMA `+pgx.Identifier{next}.Sanitize()+` RENAME TO `+pgx.Identifier{serving}.Sanitize())
				return err
			})
		},
		dropOld: func(ctx context.Context) error {
			_, err := pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{old}.Sanitize()+` CASCADE`)
			return err
		},
	}, nil
}

func (rt *Runtime) qdrantGeneration(ctx context.Context, suffix string) (generation, error) {
	client, err := rt.qdrantClient()
	if err != nil {
		return generation{}, err
	}
	emb, err := rt.embedder()
	if err != nil {
		return generation{}, err
	}
	alias := rt.cfg.Qdrant.Collection
	var oldCollection string
	if aliases, err := client.ListAliases(ctx); err == nil {
		for _, a := range aliases {
			if a.GetAliasName() == alias {
				oldCollection = a.GetCollectionName()
			}
		}
	}
	next := alias + "_" + suffix
	p, err := qproj.New(ctx, client, qproj.Config{Collection: alias, Generation: next, Dim: emb.Dim(), EmbeddingModel: emb.Model()})
	if err != nil {
		return generation{}, err
	}
	return generation{
		name: projections.Qdrant, proj: p, where: "collection " + next + " (alias " + alias + ")",
		promote: p.Promote,
		dropOld: func(ctx context.Context) error {
			if oldCollection == "" || oldCollection == next {
				return nil
			}
			if err := client.DeleteCollection(ctx, oldCollection); err != nil {
				return err
			}
			_ = client.DeleteCollection(ctx, oldCollection+qproj.CheckpointSuffix)
			return nil
		},
	}, nil
}

func (rt *Runtime) redisGeneration(ctx context.Context, suffix string) (generation, error) {
	rdb, err := rt.redis(ctx)
	if err != nil {
		return generation{}, err
	}
	prefix := rt.cfg.Redis.Prefix
	old, err := rproj.Current(ctx, rdb, prefix)
	if err != nil {
		return generation{}, err
	}
	p := rproj.New(rdb, rproj.Config{Prefix: prefix, Generation: suffix})
	return generation{
		name: projections.Redis, proj: p, where: "generation " + suffix + " (prefix " + prefix + ")",
		promote: p.Promote,
		dropOld: func(ctx context.Context) error { return rproj.DeleteGeneration(ctx, rdb, prefix, old) },
	}, nil
}

// embeddedGeneration builds a new store directory beside the serving one;
// the switch renames the directories. The serving store is opened too (it
// holds the event_log in direct mode), which also proves no other process
// has it open.
func (rt *Runtime) embeddedGeneration(ctx context.Context, suffix string) (generation, *embedded.Store, error) {
	local, err := rt.localCodec()
	if err != nil {
		return generation{}, nil, err
	}
	emb, err := rt.embedder()
	if err != nil {
		return generation{}, nil, err
	}
	dir := filepath.Clean(rt.cfg.DataDir)
	next := dir + ".rebuild-" + suffix
	old := dir + ".old-" + suffix
	open := func(d string) (*embedded.Store, error) {
		return embedded.Open(ctx, embedded.Config{Dir: d, Encoder: bodyEncoder{local}, Decoder: bodyEncoder{local}, EmbeddingModel: emb.Model()})
	}
	serving, err := open(dir)
	if err != nil {
		return generation{}, nil, fmt.Errorf("open serving store %s (is soma serve still running?): %w", dir, err)
	}
	fresh, err := open(next)
	if err != nil {
		_ = serving.Close()
		return generation{}, nil, err
	}
	closed := false
	closeBoth := func() {
		if !closed {
			closed = true
			_ = fresh.Close()
			_ = serving.Close()
		}
	}
	rt.onClose(closeBoth)
	return generation{
		name: projections.Embedded, proj: fresh, where: next,
		promote: func(context.Context) error {
			closeBoth()
			if err := os.Rename(dir, old); err != nil {
				return err
			}
			return os.Rename(next, dir)
		},
		dropOld: func(context.Context) error {
			if !strings.Contains(old, ".old-") {
				return nil
			}
			return os.RemoveAll(old)
		},
	}, serving, nil
}
