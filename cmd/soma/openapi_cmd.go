package main

import (
	"fmt"

	"github.com/spf13/cobra"

	cmdhttp "github.com/somafractalmemory/soma/commands/httpapi"
	"github.com/somafractalmemory/soma/internal/app"
	"github.com/somafractalmemory/soma/internal/httpx"
	qhttp "github.com/somafractalmemory/soma/queries/httpapi"
)

// Values of `soma openapi --api`.
const (
	openAPIWrite = "write" // soma api (:9595)
	openAPIQuery = "query" // soma query, and the query port of soma serve (:9596)
	openAPIAll   = "all"   // soma serve (:9595): writes and queries
)

func newOpenAPICmd() *cobra.Command {
	api := openAPIAll
	c := &cobra.Command{
		Use:   "openapi",
		Short: "Print the OpenAPI document an API serves on /openapi.json (the repository's openapi.json is --api all)",
		Long: `Print the OpenAPI document an API serves on GET /openapi.json, without
starting it: --api write (soma api), query (soma query and the query port
of soma serve) or all (soma serve's write + query port, the default). The
output is indented JSON with sorted keys and a final newline; the
repository's openapi.json is this command's default output (make openapi).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			doc, err := servedOpenAPI(api)
			if err != nil {
				return err
			}
			_, err = c.OutOrStdout().Write(append(doc, '\n'))
			return err
		},
	}
	c.Flags().StringVar(&api, "api", api, "which API: write, query or all")
	return c
}

// servedOpenAPI returns the document the named API serves on
// /openapi.json: its own document with the public routes and shared
// components merged in, as httpx.New does.
func servedOpenAPI(api string) ([]byte, error) {
	var doc []byte
	switch api {
	case openAPIWrite:
		doc = cmdhttp.OpenAPI()
	case openAPIQuery:
		doc = qhttp.OpenAPI()
	case openAPIAll:
		both, err := app.ServeOpenAPI()
		if err != nil {
			return nil, fmt.Errorf("merge the write and query documents: %w", err)
		}
		doc = both
	default:
		return nil, usageError{fmt.Errorf("--api %q: want %s, %s or %s", api, openAPIWrite, openAPIQuery, openAPIAll)}
	}
	return httpx.MergePublicPaths(doc)
}
