package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/somafractalmemory/soma/internal/config"
)

// loadConfig is the one place that reads the environment.
func loadConfig() (config.Config, error) {
	return config.Load(os.LookupEnv)
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Show or check the configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "env-example",
		Short: "Print .env.example: every variable with its default and meaning",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(c.OutOrStdout(), config.EnvExample())
			return err
		},
	}, &cobra.Command{
		Use:   "check",
		Short: "Validate the configuration from the environment",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if _, err := loadConfig(); err != nil {
				return err
			}
			_, err := fmt.Fprintln(c.OutOrStdout(), "configuration ok")
			return err
		},
	})
	return cmd
}
