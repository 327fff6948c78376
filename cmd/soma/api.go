package main

import (
	"github.com/spf13/cobra"

	"github.com/somafractalmemory/soma/internal/app"
)

func newAPICmd() *cobra.Command {
	return &cobra.Command{
		Use:   "api",
		Short: "Run the write API (commands) on SOMA_API_ADDR (:9595)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			rt := app.New(cfg, version)
			defer rt.Close()
			return rt.RunAPI(c.Context())
		},
	}
}
