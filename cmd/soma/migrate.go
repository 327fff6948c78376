package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/somafractalmemory/soma/internal/app"
	pgproj "github.com/somafractalmemory/soma/projections/postgres"
)

func newMigrateCmd() *cobra.Command {
	var schema string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the Postgres read-model migrations (POSTGRES_URL, SOMA_POSTGRES_SCHEMA)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			if cfg.Postgres.URL == "" {
				return usageError{errors.New("POSTGRES_URL is not set")}
			}
			if schema == "" {
				schema = cfg.Postgres.Schema
			}
			rt := app.New(cfg, version)
			defer rt.Close()
			pool, err := rt.Postgres(c.Context())
			if err != nil {
				return err
			}
			if err := pgproj.Migrate(c.Context(), pool, schema); err != nil {
				return err
			}
			_, err = fmt.Fprintf(c.OutOrStdout(), "schema %s migrated\n", schema)
			return err
		},
	}
	cmd.Flags().StringVar(&schema, "schema", "", "schema to migrate (default SOMA_POSTGRES_SCHEMA)")
	return cmd
}
