package main

import (
	"errors"
	"fmt"
	"net/http"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/somafractalmemory/soma/schemas"
)

func newSchemasCmd() *cobra.Command {
	var registryURL string
	cmd := &cobra.Command{Use: "schemas", Short: "List, register and check the Avro event schemas"}
	cmd.PersistentFlags().StringVar(&registryURL, "registry", "", "schema registry URL (default SCHEMA_REGISTRY_URL; list and check work offline without it)")

	client := func() (*schemas.RegistryClient, *schemas.Catalog, error) {
		cfg, err := loadConfig()
		if err != nil {
			return nil, nil, err
		}
		cat, err := schemas.BuiltinCatalog()
		if err != nil {
			return nil, nil, err
		}
		url := registryURL
		if url == "" {
			url = cfg.Registry.URL
		}
		if url == "" {
			return nil, cat, nil
		}
		rc, err := schemas.NewRegistryClient(schemas.RegistryConfig{
			URL: url, Topic: cfg.Kafka.Topic, Timeout: cfg.Registry.Timeout,
			Username: cfg.Registry.Username, Password: cfg.Registry.Password,
		}, cat, http.DefaultClient)
		return rc, cat, err
	}

	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List every event schema version with its subject (and registry id with --registry)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			rc, cat, err := client()
			if err != nil {
				return err
			}
			entries := cat.List("")
			if cfg, err := loadConfig(); err == nil {
				entries = cat.List(cfg.Kafka.Topic)
			}
			if rc != nil {
				if entries, err = rc.List(c.Context()); err != nil {
					return err
				}
			}
			w := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "EVENT\tVERSION\tLATEST\tSUBJECT\tID\tFINGERPRINT")
			for _, e := range entries {
				id := "-"
				if e.ID > 0 {
					id = fmt.Sprint(e.ID)
				}
				fmt.Fprintf(w, "%s\tv%d\t%v\t%s\t%s\t%s\n", e.Event, e.Version, e.Latest, e.Subject, id, e.Fingerprint)
			}
			return w.Flush()
		},
	}, &cobra.Command{
		Use:   "register",
		Short: "Register every version of every event schema (oldest first) with BACKWARD_TRANSITIVE compatibility",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			rc, _, err := client()
			if err != nil {
				return err
			}
			if rc == nil {
				return usageError{errors.New("no registry: pass --registry URL or set SCHEMA_REGISTRY_URL")}
			}
			refs, err := rc.Register(c.Context())
			if err != nil {
				return err
			}
			for _, r := range refs {
				fmt.Fprintf(c.OutOrStdout(), "%s v%d → id %d (%s)\n", r.Event, r.Version, r.ID, rc.Subject(r.Event))
			}
			return nil
		},
	}, &cobra.Command{
		Use:   "check",
		Short: "Check that every schema version is backward-transitive compatible with all earlier ones (locally; also with the registry with --registry)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			rc, cat, err := client()
			if err != nil {
				return err
			}
			problems := cat.Check()
			if rc != nil {
				more, err := rc.CheckRegistry(c.Context())
				if err != nil {
					return err
				}
				problems = append(problems, more...)
			}
			for _, p := range problems {
				fmt.Fprintln(c.ErrOrStderr(), "incompatible:", p.String())
			}
			if len(problems) > 0 {
				return fmt.Errorf("%d schema compatibility problem(s)", len(problems))
			}
			n := 0
			for _, e := range cat.Events() {
				n += len(cat.Versions(e))
			}
			_, err = fmt.Fprintf(c.OutOrStdout(), "ok: %d events, %d schema versions, backward-transitive compatible\n", len(cat.Events()), n)
			return err
		},
	})
	return cmd
}
