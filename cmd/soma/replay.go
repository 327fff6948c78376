package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/somafractalmemory/soma/internal/app"
	"github.com/somafractalmemory/soma/projections"
)

func newReplayCmd() *cobra.Command {
	var o app.ReplayOptions
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Rebuild a read model from the log: a new generation beside the serving one, switched atomically once caught up",
		Long: `soma replay builds a new generation of a read model from offset 0 of the event
topic (or from the event_log in direct-write mode) beside the serving one — a new
Postgres schema, a new Qdrant collection behind the alias, a new Redis key
generation, a new embedded store file — and switches to it atomically once it has
caught up. Reads keep using the serving generation until the switch.

Stop the projector of that read model (or the process writing the embedded store)
first: replay refuses to run while its consumer group has members, unless --force.
After the switch the projector resumes from the new generation's own checkpoint.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			switch o.Projection {
			case projections.Postgres, projections.Qdrant, projections.Redis, projections.Embedded, "all":
			default:
				return usageError{fmt.Errorf("--projection must be postgres, qdrant, redis, embedded or all, got %q", o.Projection)}
			}
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			rt := app.New(cfg, version)
			defer rt.Close()
			if err := rt.Replay(c.Context(), o, c.ErrOrStderr()); err != nil {
				if errors.Is(err, app.ErrNotInUse) {
					return usageError{err}
				}
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Projection, "projection", "", "postgres, qdrant, redis, embedded or all (required)")
	cmd.Flags().BoolVar(&o.DropOld, "drop-old", false, "remove the previous generation after the switch")
	cmd.Flags().BoolVar(&o.InPlace, "in-place", false, "development: rebuild and replace the serving generation, dropping the old one at once")
	cmd.Flags().BoolVar(&o.Force, "force", false, "run even while the read model's consumer group has members")
	cmd.Flags().IntVar(&o.Batch, "batch", 1000, "events per read-model transaction")
	_ = cmd.MarkFlagRequired("projection")
	return cmd
}
