package app

import (
	"context"
	"errors"

	qhttp "github.com/somafractalmemory/soma/queries/httpapi"
)

// RunQuery runs the query API (read-only) on SOMA_QUERY_ADDR over the
// external read models until ctx ends.
func (rt *Runtime) RunQuery(ctx context.Context) error {
	cfg := rt.cfg
	if cfg.Postgres.URL == "" || cfg.Qdrant.Host == "" {
		return errors.New("soma query reads Postgres (POSTGRES_URL) and Qdrant (QDRANT_URL): the embedded store belongs to one process, use `soma serve` for it")
	}
	local, err := rt.localCodec()
	if err != nil {
		return err
	}
	codec := local
	if cfg.Kafka.Enabled {
		if codec, err = rt.registryCodec(ctx); err != nil {
			return err
		}
	}
	models, err := rt.externalReadModels(ctx, codec, false)
	if err != nil {
		return err
	}
	app, err := rt.queryApp(ctx, models, nil, codec)
	if err != nil {
		return err
	}
	srv, err := rt.httpServer(ctx, rt.httpConfig("soma-query"), qhttp.OpenAPI(), rt.readinessChecks(models, nil))
	if err != nil {
		return err
	}
	qhttp.Register(srv.API, app, qhttp.Options{})
	rt.log.Info("query API listening", "addr", cfg.HTTP.QueryAddr)
	return srv.Run(ctx, cfg.HTTP.QueryAddr)
}
