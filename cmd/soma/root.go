package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "soma",
		Short:         "SomaFractalMemory: an event-sourced memory service for AI agents",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newVersionCmd(),
		newConfigCmd(),
		newHealthcheckCmd(),
		newBenchCmd(),
		newServeCmd(),
		newAPICmd(),
		newQueryCmd(),
		newProjectorCmd(),
		newReplayCmd(),
		newSchemasCmd(),
		newMigrateCmd(),
		newOpenAPICmd(),
	)
	root.AddCommand(newClientCmds()...)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "soma", version)
			return err
		},
	}
}
