package main

import (
	"github.com/spf13/cobra"

	"github.com/somafractalmemory/soma/internal/app"
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
			rt := app.New(cfg, version)
			defer rt.Close()
			return rt.RunQuery(c.Context())
		},
	}
}
