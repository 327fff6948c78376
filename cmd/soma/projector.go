package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/somafractalmemory/soma/internal/app"
)

func newProjectorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "projector",
		Short: "Run the projection workers (one consumer group per read model); health and metrics on CONSUMER_METRICS_PORT",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			rt := app.New(cfg, version)
			defer rt.Close()
			return rt.RunProjector(c.Context(), fmt.Sprintf(":%d", cfg.Projection.MetricsPort))
		},
	}
}
