package main

import (
	"errors"

	"github.com/spf13/cobra"

	qhttp "github.com/somafractalmemory/soma/queries/httpapi"
)

func newQueryCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "query",
		Short: "Run the query API (read-only) on SOMA_QUERY_ADDR (:9596) over Postgres, Qdrant and Redis",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			if cfg.Postgres.URL == "" || cfg.Qdrant.Host == "" {
				return errors.New("soma query reads Postgres (POSTGRES_URL) and Qdrant (QDRANT_URL): the embedded store belongs to one process, use `soma serve` for it")
			}
			rt := newRuntime(cfg)
			defer rt.close()
			local, err := rt.localCodec()
			if err != nil {
				return err
			}
			codec := local
			if cfg.Kafka.Enabled {
				if codec, err = rt.registryCodec(c.Context()); err != nil {
					return err
				}
			}
			models, err := rt.externalReadModels(c.Context(), codec, false)
			if err != nil {
				return err
			}
			app, err := rt.queryApp(c.Context(), models, nil, codec)
			if err != nil {
				return err
			}
			srv, err := rt.httpServer(c.Context(), rt.httpConfig("soma-query"), qhttp.OpenAPI(), rt.readinessChecks(models, nil))
			if err != nil {
				return err
			}
			qhttp.Register(srv.API, app, qhttp.Options{})
			rt.log.Info("query API listening", "addr", cfg.HTTP.QueryAddr)
			return srv.Run(c.Context(), cfg.HTTP.QueryAddr)
		},
	}
}
