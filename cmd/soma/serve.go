package main

import (
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/somafractalmemory/soma/internal/app"
)

func newServeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the write API, the query API and the projections in one process (embedded store for whatever is not configured)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			rt := app.New(cfg, version)
			defer rt.Close()
			apiLn, err := net.Listen("tcp", cfg.HTTP.APIAddr)
			if err != nil {
				return fmt.Errorf("listen %s: %w", cfg.HTTP.APIAddr, err)
			}
			queryLn, err := net.Listen("tcp", cfg.HTTP.QueryAddr)
			if err != nil {
				_ = apiLn.Close()
				return fmt.Errorf("listen %s: %w", cfg.HTTP.QueryAddr, err)
			}
			return rt.Serve(c.Context(), apiLn, queryLn, func(s string) { fmt.Fprintln(c.OutOrStdout(), s) })
		},
	}
}
