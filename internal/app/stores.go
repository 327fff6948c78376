package app

import (
	"context"
	"fmt"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/projections"
	pgproj "github.com/somafractalmemory/soma/projections/postgres"
	qproj "github.com/somafractalmemory/soma/projections/qdrant"
	rproj "github.com/somafractalmemory/soma/projections/redis"
	"github.com/somafractalmemory/soma/schemas"
)

// readModels are the configured external read models, serving generation.
// A nil field is not configured.
type readModels struct {
	postgres *pgproj.Projection
	qdrant   *qproj.Projection
	redis    *rproj.Projection
}

// all returns the configured read models as projections.
func (m readModels) all() []projections.Projection {
	var out []projections.Projection
	if m.postgres != nil {
		out = append(out, m.postgres)
	}
	if m.qdrant != nil {
		out = append(out, m.qdrant)
	}
	if m.redis != nil {
		out = append(out, m.redis)
	}
	return out
}

// externalReadModels opens the configured external read models. enc frames
// Postgres event_log bodies (the topic's codec in evented mode, the local
// codec in direct mode). migrate applies the Postgres migrations first
// (development convenience; production runs `soma migrate`).
func (rt *Runtime) externalReadModels(ctx context.Context, enc *schemas.Codec, migrate bool) (readModels, error) {
	var m readModels
	pool, err := rt.postgres(ctx)
	if err != nil {
		return m, err
	}
	if pool != nil {
		if migrate {
			if err := pgproj.Migrate(ctx, pool, rt.cfg.Postgres.Schema); err != nil {
				return m, fmt.Errorf("postgres migrate: %w", err)
			}
		}
		m.postgres = pgproj.New(pool, pgproj.Config{Schema: rt.cfg.Postgres.Schema, Encoder: bodyEncoder{enc}, Decoder: bodyEncoder{enc}})
	}
	qc, err := rt.qdrantClient()
	if err != nil {
		return m, err
	}
	if qc != nil {
		emb, err := rt.embedder()
		if err != nil {
			return m, err
		}
		var p *qproj.Projection
		err = rt.retry(ctx, "qdrant", func(ctx context.Context) error {
			var err error
			p, err = qproj.New(ctx, qc, qproj.Config{Collection: rt.cfg.Qdrant.Collection, Dim: emb.Dim(), EmbeddingModel: emb.Model()})
			return err
		}, nil)
		if err != nil {
			return m, err
		}
		m.qdrant = p
	}
	rdb, err := rt.redis(ctx)
	if err != nil {
		return m, err
	}
	if rdb != nil {
		gen, err := rproj.Current(ctx, rdb, rt.cfg.Redis.Prefix)
		if err != nil {
			return m, err
		}
		m.redis = rproj.New(rdb, rproj.Config{Prefix: rt.cfg.Redis.Prefix, Generation: gen})
	}
	return m, nil
}

// bodyEncoder adapts the codec to the Postgres projection's EventEncoder
// and EventDecoder.
type bodyEncoder struct{ c *schemas.Codec }

func (b bodyEncoder) EncodeBody(e domain.Event) ([]byte, error) { return b.c.Encode(e) }

func (b bodyEncoder) DecodeBody(p []byte) (domain.Event, error) { return b.c.Decode(p) }
