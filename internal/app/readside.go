package app

import (
	"context"
	"fmt"
	"time"

	"github.com/somafractalmemory/soma/projections"
	"github.com/somafractalmemory/soma/projections/embedded"
	"github.com/somafractalmemory/soma/queries"
	embq "github.com/somafractalmemory/soma/queries/embedded"
	pgq "github.com/somafractalmemory/soma/queries/postgres"
	qdq "github.com/somafractalmemory/soma/queries/qdrant"
	rdq "github.com/somafractalmemory/soma/queries/redis"
	"github.com/somafractalmemory/soma/schemas"
)

// queryApp builds the query use cases over the read models: the external
// ones where configured, the embedded store (may be nil) for the rest.
func (rt *Runtime) queryApp(ctx context.Context, models readModels, store *embedded.Store, codec *schemas.Codec) (*queries.Application, error) {
	emb, err := rt.embedder()
	if err != nil {
		return nil, err
	}
	deps := queries.Deps{Embedder: emb}
	readers := map[string]queries.PositionReader{}
	roles := map[queries.Role][]string{}
	add := func(role queries.Role, name string) { roles[role] = append(roles[role], name) }

	var es *embq.ReadModel
	if store != nil {
		es = embq.New(store)
		readers[projections.Embedded] = es
	}
	var wake <-chan struct{}

	// Vectors: Qdrant, else the embedded index.
	switch {
	case models.qdrant != nil:
		qc, err := rt.qdrantClient()
		if err != nil {
			return nil, err
		}
		ix := qdq.New(qc, rt.cfg.Qdrant.Collection, emb.Model())
		deps.Vectors = ix
		readers[projections.Qdrant] = ix
		add(queries.RoleVectors, projections.Qdrant)
	case es != nil:
		deps.Vectors = es
		add(queries.RoleVectors, projections.Embedded)
	default:
		return nil, fmt.Errorf("no vector index: configure QDRANT_URL or run with the embedded store")
	}

	// Records and counters: Redis first, then the canonical store.
	if models.redis != nil {
		rdb, err := rt.redis(ctx)
		if err != nil {
			return nil, err
		}
		rs := rdq.New(rdb, rdq.Config{Prefix: rt.cfg.Redis.Prefix})
		deps.Records = append(deps.Records, rs)
		deps.Counters = append(deps.Counters, rs)
		readers[projections.Redis] = rs
		add(queries.RoleRecords, projections.Redis)
		add(queries.RoleCounters, projections.Redis)
	}
	canonical := projections.Embedded
	switch {
	case models.postgres != nil:
		pool, err := rt.postgres(ctx)
		if err != nil {
			return nil, err
		}
		ps := pgq.New(pool, rt.cfg.Postgres.Schema)
		deps.Records = append(deps.Records, ps)
		deps.Counters = append(deps.Counters, ps)
		deps.Graph, deps.Ranges, deps.Exporter = ps, ps, ps
		deps.History = pgq.NewHistory(pool, rt.cfg.Postgres.Schema, bodyEncoder{codec})
		readers[projections.Postgres] = ps
		canonical = projections.Postgres
		ch, err := pgq.ListenPositions(ctx, pool)
		if err != nil {
			return nil, err
		}
		wake = ch
	case es != nil:
		wake = store.Advanced()
		deps.Records = append(deps.Records, es)
		deps.Counters = append(deps.Counters, es)
		deps.Graph, deps.Ranges, deps.Exporter, deps.History = es, es, es, es
	default:
		return nil, fmt.Errorf("no record store: configure POSTGRES_URL or run with the embedded store")
	}
	add(queries.RoleRecords, canonical)
	add(queries.RoleCounters, canonical)
	for _, r := range []queries.Role{queries.RoleGraph, queries.RoleRanges, queries.RoleExport, queries.RoleHistory} {
		add(r, canonical)
	}
	// Only Postgres (and the embedded store) announce new positions; the
	// other read models are polled, so keep the poll cap short.
	w, err := queries.NewWaiter(queries.WaiterConfig{Readers: readers, Roles: roles, Wake: wake, Timeout: rt.cfg.HTTP.ConsistencyTimeout,
		PollMax: 25 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	deps.Consistency = w
	return queries.NewApplication(deps), nil
}
