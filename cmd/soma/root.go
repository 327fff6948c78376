package main

import (
	"errors"
	"fmt"
	"strings"

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
	markUsageErrors(root)
	return root
}

// markUsageErrors makes every wrong invocation of cmd and its
// subcommands a usageError (exit 2): positional arguments a command's
// Args refuses, and an unknown subcommand of a command group, which cobra
// would answer with an unclassified error (root) or the group's help and
// exit 0 (deeper groups). A group run alone still prints its help.
func markUsageErrors(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		markUsageErrors(sub)
	}
	if cmd.HasSubCommands() && !cmd.Runnable() {
		cmd.Args = unknownSubcommand
		cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
		return
	}
	if validate := cmd.Args; validate != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			err := validate(c, args)
			var ue usageError
			if err == nil || errors.As(err, &ue) {
				return err
			}
			return usageError{err}
		}
	}
}

// unknownSubcommand refuses any positional argument of a command group:
// it names no subcommand.
func unknownSubcommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, ", "))
	}
	return usageError{fmt.Errorf("%s; see '%s --help'", msg, c.CommandPath())}
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
