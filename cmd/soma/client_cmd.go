package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/somafractalmemory/soma"
	"github.com/somafractalmemory/soma/internal/config"
)

// Output formats of the client subcommands.
const (
	outputJSON  = "json"
	outputTable = "table"
)

// clientFlags are the flags every client subcommand shares.
type clientFlags struct {
	url, queryURL, namespace, token, output string
	session                                 string
	noSession                               bool
	timeout                                 time.Duration
}

func (f *clientFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.url, "url", "", "base URL of the write API (default $SOMA_URL or http://127.0.0.1:9595)")
	fs.StringVar(&f.queryURL, "query-url", "", "base URL of the query API (default $SOMA_QUERY_URL, else --url)")
	fs.StringVar(&f.namespace, "namespace", "", "namespace (default $SOMA_MEMORY_NAMESPACE, else the server's default)")
	fs.StringVar(&f.token, "token", "", "API bearer token (default $SOMA_API_TOKEN)")
	fs.StringVarP(&f.output, "output", "o", outputJSON, "output format: json or table")
	fs.StringVar(&f.session, "session-file", "", "file keeping the consistency token between invocations (default: one per URL and namespace in the user cache directory)")
	fs.BoolVar(&f.noSession, "no-session", false, "neither read nor write the session file")
	fs.DurationVar(&f.timeout, "timeout", soma.DefaultClientTimeout, "timeout of each request; import chunks get at least 10m, an export stream at least 2m of silence; 0: none")
}

// clientCommand is one client subcommand: the flags it adds and what it
// does with a connected client.
type clientCommand struct {
	use, short, long string
	// flags registers the subcommand's own flags; required lists those
	// that must be given.
	flags    func(fs *pflag.FlagSet)
	required []string
	run      func(ctx context.Context, e *clientEnv) error
}

// clientEnv is what a subcommand's run gets.
type clientEnv struct {
	cmd     *cobra.Command
	client  *soma.Client
	session *session
	flags   *clientFlags
}

func (e *clientEnv) stdout() io.Writer { return e.cmd.OutOrStdout() }
func (e *clientEnv) stderr() io.Writer { return e.cmd.ErrOrStderr() }

// newClientCmds returns the client subcommands (store, recall, …).
func newClientCmds() []*cobra.Command {
	defs := []clientCommand{
		storeCmd(), rememberCmd(), storeBulkCmd(), getCmd(), recallCmd(),
		linkCmd(), unlinkCmd(), pathCmd(), neighborsCmd(), rangeCmd(), statsCmd(),
		deleteCmd(), deleteManyCmd(), exportCmd(), importCmd(),
	}
	out := make([]*cobra.Command, len(defs))
	for i, d := range defs {
		out[i] = d.command()
	}
	return out
}

func (d clientCommand) command() *cobra.Command {
	f := &clientFlags{}
	cmd := &cobra.Command{
		Use:   d.use,
		Short: d.short,
		Long:  d.long,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unexpected argument %q (every input is a flag)", args[0])}
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	if d.flags != nil {
		d.flags(cmd.Flags())
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		var missing []string
		for _, name := range d.required {
			if !c.Flags().Changed(name) {
				missing = append(missing, "--"+name)
			}
		}
		if len(missing) > 0 {
			return usageError{fmt.Errorf("required flag(s) %s not set", strings.Join(missing, ", "))}
		}
		if f.output != outputJSON && f.output != outputTable {
			return usageError{fmt.Errorf("--output %q: want json or table", f.output)}
		}
		env, err := connect(c, f)
		if err != nil {
			return err
		}
		defer env.client.Close()
		return d.run(c.Context(), env)
	}
	return cmd
}

// connect builds the client from the flags and the environment and loads
// the session's consistency token.
func connect(c *cobra.Command, f *clientFlags) (*clientEnv, error) {
	envCfg := config.LoadClient(os.LookupEnv)
	pick := func(flag, env string) string {
		if flag != "" {
			return flag
		}
		return env
	}
	cfg := soma.ClientConfig{
		URL:       pick(f.url, envCfg.URL),
		QueryURL:  pick(f.queryURL, envCfg.QueryURL),
		Namespace: pick(f.namespace, envCfg.Namespace),
		Token:     pick(f.token, envCfg.Token),
		Timeout:   f.timeout,
	}
	if f.timeout <= 0 {
		cfg.Timeout, cfg.ImportTimeout, cfg.ExportIdleTimeout = -1, -1, -1
	} else {
		cfg.ImportTimeout = max(f.timeout, soma.DefaultImportTimeout)
		cfg.ExportIdleTimeout = max(f.timeout, soma.DefaultExportIdleTimeout)
	}
	client, err := soma.NewClient(cfg)
	if err != nil {
		return nil, usageError{err}
	}
	e := &clientEnv{cmd: c, client: client, flags: f}
	if !f.noSession {
		e.session = newSession(f.session, cfg)
		if tok := e.session.load(); tok != "" {
			// A stale or foreign token only costs a wait; never fail for it.
			_ = client.ObserveConsistencyToken(tok)
			e.session.loaded = client.ConsistencyToken()
		}
	}
	return e, nil
}

// wrote saves the client's consistency token after a write.
func (e *clientEnv) wrote() {
	if e.session != nil {
		e.session.save(e.client.ConsistencyToken())
	}
}

// read runs a read. When it fails because the read models did not reach
// the consistency token in time (a 503 naming lagging read models) and
// that token is the one of the session file (written by an earlier
// invocation, perhaps against a server since reset), the token is
// dropped, with a warning, and the read tried once more without it. Any
// other failure, a dependency outage included, keeps the session.
func read[T any](ctx context.Context, e *clientEnv, f func(context.Context) (T, error)) (T, error) {
	v, err := f(ctx)
	if err == nil || !errors.Is(err, soma.ErrConsistencyLag) || e.session == nil ||
		e.session.loaded == "" || e.client.ConsistencyToken() != e.session.loaded {
		return v, err
	}
	fmt.Fprintf(e.stderr(), "warning: read models have not reached the session's consistency token; dropped it (%s) and read without it, recent writes may be missing\n", e.session.path)
	e.session.clear()
	e.client.ResetConsistencyToken()
	return f(ctx)
}

// coordFlag parses a coordinate flag; a bad one is an error (exit 1).
func coordFlag(name, value string) (soma.Coordinate, error) {
	c, err := soma.ParseCoordinate(value)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", name, err)
	}
	return c, nil
}

// memoryType checks a --type value: "" (none), episodic or semantic.
func memoryType(s string) (soma.MemoryType, error) {
	switch soma.MemoryType(s) {
	case "", soma.Episodic, soma.Semantic:
		return soma.MemoryType(s), nil
	}
	return "", usageError{fmt.Errorf("--type %q: want episodic or semantic", s)}
}

// jsonObject parses a JSON object flag, keeping numbers' text.
func jsonObject(name, s string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("--%s: want a JSON object, e.g. '{\"text\":\"hello\"}'", name)
	}
	if dec.More() {
		return nil, fmt.Errorf("--%s: more than one JSON value", name)
	}
	return m, nil
}

// filterValue reads the value of --filter k=v: JSON when it parses
// (numbers, true, false, null, "quoted"), else the text itself.
func filterValue(s string) any {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err == nil && !dec.More() {
		if _, isObj := v.(map[string]any); !isObj {
			if _, isArr := v.([]any); !isArr {
				return v
			}
		}
	}
	return s
}

func storeCmd() clientCommand {
	var coord, payload, typ, vector string
	return clientCommand{
		use:   "store",
		short: "Store (or replace) a memory at a coordinate",
		long: `Stores a memory: a JSON payload at a coordinate ("1,2,3"). A memory already
at the coordinate is replaced. Prints {"ok", "coord", "event_ids", "consistency_token"}.`,
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&coord, "coord", "", `coordinate, e.g. "1,2,3"`)
			fs.StringVar(&payload, "payload", "", `payload JSON object, e.g. '{"text":"hello","importance":3}'`)
			fs.StringVar(&typ, "type", "episodic", "memory type: episodic or semantic")
			fs.StringVar(&vector, "vector", "", "own embedding as a JSON array of numbers (default: the server embeds)")
		},
		required: []string{"coord", "payload"},
		run: func(ctx context.Context, e *clientEnv) error {
			req, err := storeRequest(coord, payload, typ, vector, true)
			if err != nil {
				return err
			}
			res, err := e.client.Store(ctx, req)
			if err != nil {
				return err
			}
			e.wrote()
			return e.print(storeOutput(res), nil)
		},
	}
}

func rememberCmd() clientCommand {
	var coord, payload, typ, vector string
	return clientCommand{
		use:   "remember",
		short: "Store a memory, at a generated coordinate unless --coord is given",
		long: `Stores a memory like store; without --coord the server generates the
coordinate. Prints {"ok", "coord", "event_ids", "consistency_token"}.`,
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&coord, "coord", "", `coordinate (default: generated by the server)`)
			fs.StringVar(&payload, "payload", "", `payload JSON object`)
			fs.StringVar(&typ, "type", "episodic", "memory type: episodic or semantic")
			fs.StringVar(&vector, "vector", "", "own embedding as a JSON array of numbers")
		},
		required: []string{"payload"},
		run: func(ctx context.Context, e *clientEnv) error {
			req, err := storeRequest(coord, payload, typ, vector, e.cmd.Flags().Changed("coord"))
			if err != nil {
				return err
			}
			res, err := e.client.Remember(ctx, req)
			if err != nil {
				return err
			}
			e.wrote()
			return e.print(storeOutput(res), nil)
		},
	}
}

func storeRequest(coord, payload, typ, vector string, hasCoord bool) (soma.StoreRequest, error) {
	var req soma.StoreRequest
	if hasCoord {
		c, err := coordFlag("coord", coord)
		if err != nil {
			return req, err
		}
		req.Coordinate = c
	}
	p, err := jsonObject("payload", payload)
	if err != nil {
		return req, err
	}
	req.Payload = p
	if req.Type, err = memoryType(typ); err != nil {
		return req, err
	}
	if vector != "" {
		if err := json.Unmarshal([]byte(vector), &req.Vector); err != nil {
			return req, fmt.Errorf("--vector: want a JSON array of numbers: %v", err)
		}
	}
	return req, nil
}

func storeBulkCmd() clientCommand {
	var file string
	return clientCommand{
		use:   "store-bulk",
		short: "Store every memory of a JSON array file in one batch (all or nothing)",
		long: `Reads a JSON array of {"coord": "1,2,3" or [1,2,3], "payload": {...}, "type": "semantic"}
from --file ("-" for standard input) and stores them in one request: one bad item
rejects the batch. Prints {"stored", "event_ids", "consistency_token"}.`,
		flags:    func(fs *pflag.FlagSet) { fs.StringVar(&file, "file", "", `JSON array file ("-": standard input)`) },
		required: []string{"file"},
		run: func(ctx context.Context, e *clientEnv) error {
			raw, err := readInput(e.cmd, file)
			if err != nil {
				return err
			}
			var items []struct {
				Coord   soma.Coordinate `json:"coord"`
				Payload map[string]any  `json:"payload"`
				Type    soma.MemoryType `json:"type"`
				Vector  []float32       `json:"embedding"`
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if err := dec.Decode(&items); err != nil {
				return fmt.Errorf("--file %s: want a JSON array of {coord, payload, type}: %w", file, err)
			}
			reqs := make([]soma.StoreRequest, len(items))
			for i, it := range items {
				if it.Coord == nil {
					return fmt.Errorf("--file %s: item %d: coord is required", file, i)
				}
				reqs[i] = soma.StoreRequest{Coordinate: it.Coord, Payload: it.Payload, Type: it.Type, Vector: it.Vector}
			}
			res, err := e.client.StoreBulk(ctx, reqs)
			if err != nil {
				return err
			}
			e.wrote()
			return e.print(res, nil)
		},
	}
}

func readInput(c *cobra.Command, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(c.InOrStdin())
	}
	b, err := os.ReadFile(path) // #nosec G304 -- the user names the file to read on the command line
	if err != nil {
		return nil, fmt.Errorf("--file: %w", err)
	}
	return b, nil
}

func getCmd() clientCommand {
	var coord string
	return clientCommand{
		use:   "get",
		short: "Print the memory at a coordinate",
		long: `Prints the record: its payload keys plus "memory_type", "coordinate",
"importance_norm" and (episodic memories) "timestamp". An unknown coordinate
fails (404, exit 1).`,
		flags:    func(fs *pflag.FlagSet) { fs.StringVar(&coord, "coord", "", "coordinate") },
		required: []string{"coord"},
		run: func(ctx context.Context, e *clientEnv) error {
			c, err := coordFlag("coord", coord)
			if err != nil {
				return err
			}
			rec, err := read(ctx, e, func(ctx context.Context) (soma.Record, error) { return e.client.Get(ctx, c) })
			if err != nil {
				return err
			}
			return e.print(rec, func(w io.Writer) error { return recordsTable(w, []soma.Record{rec}) })
		},
	}
}

func recallCmd() clientCommand {
	var (
		query, typ string
		topK       int
		filters    []string
		scores     bool
	)
	return clientCommand{
		use:   "recall",
		short: "Recall the memories most similar to a query",
		long: `Prints {"matches": [record...]}, best first (score = cosine × importance_norm).
With --scores, prints {"results": [{"payload": record, "score", "cosine", "importance_norm"}...]}
(the shape of POST /recall_with_scores).
--filter key=value (repeatable) keeps records whose payload key equals the value;
the value is JSON when it parses (3, true, "3") and text otherwise.`,
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&query, "query", "", "query text")
			fs.IntVar(&topK, "top-k", 5, "number of results (1..1000)")
			fs.StringVar(&typ, "type", "", "only this memory type: episodic or semantic")
			fs.StringArrayVar(&filters, "filter", nil, "payload equality filter key=value (repeatable)")
			fs.BoolVar(&scores, "scores", false, "print the parts of each score")
		},
		required: []string{"query"},
		run: func(ctx context.Context, e *clientEnv) error {
			t, err := memoryType(typ)
			if err != nil {
				return err
			}
			if topK < 1 {
				return usageError{fmt.Errorf("--top-k %d: want 1..1000", topK)}
			}
			req := soma.RecallRequest{Query: query, TopK: topK, Type: t}
			for _, f := range filters {
				k, v, ok := strings.Cut(f, "=")
				if !ok || k == "" {
					return usageError{fmt.Errorf("--filter %q: want key=value", f)}
				}
				if req.Filters == nil {
					req.Filters = map[string]any{}
				}
				req.Filters[k] = filterValue(v)
			}
			if scores {
				res, err := read(ctx, e, func(ctx context.Context) ([]soma.ScoredRecord, error) { return e.client.RecallWithScores(ctx, req) })
				if err != nil {
					return err
				}
				return e.print(scoredOutput(res), func(w io.Writer) error { return scoredTable(w, res) })
			}
			res, err := read(ctx, e, func(ctx context.Context) ([]soma.Record, error) { return e.client.Recall(ctx, req) })
			if err != nil {
				return err
			}
			return e.print(map[string]any{"matches": res}, func(w io.Writer) error { return recordsTable(w, res) })
		},
	}
}

func linkCmd() clientCommand {
	var from, to, typ string
	var weight float64
	return clientCommand{
		use:   "link",
		short: "Link two memories with a directed, typed, weighted edge",
		long: `Creates (or replaces) the edge --from → --to. The source memory must exist;
the target need not. Prints {"ok", "event_ids", "consistency_token"}.`,
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&from, "from", "", "source coordinate")
			fs.StringVar(&to, "to", "", "target coordinate")
			fs.StringVar(&typ, "type", soma.DefaultLinkType, "link type")
			fs.Float64Var(&weight, "weight", soma.DefaultLinkWeight, "edge weight (cost for path), finite and ≥ 0")
		},
		required: []string{"from", "to"},
		run: func(ctx context.Context, e *clientEnv) error {
			f, t, err := fromTo(from, to)
			if err != nil {
				return err
			}
			res, err := e.client.Link(ctx, soma.LinkRequest{From: f, To: t, Type: typ, Weight: soma.Weight(weight)})
			if err != nil {
				return err
			}
			e.wrote()
			return e.print(okOutput(res), nil)
		},
	}
}

func unlinkCmd() clientCommand {
	var from, to string
	return clientCommand{
		use:   "unlink",
		short: "Remove the edge between two memories",
		long:  `Removes the edge --from → --to (a missing edge is fine). Prints {"ok", "event_ids", "consistency_token"}.`,
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&from, "from", "", "source coordinate")
			fs.StringVar(&to, "to", "", "target coordinate")
		},
		required: []string{"from", "to"},
		run: func(ctx context.Context, e *clientEnv) error {
			f, t, err := fromTo(from, to)
			if err != nil {
				return err
			}
			res, err := e.client.Unlink(ctx, f, t)
			if err != nil {
				return err
			}
			e.wrote()
			return e.print(okOutput(res), nil)
		},
	}
}

func fromTo(from, to string) (soma.Coordinate, soma.Coordinate, error) {
	f, err := coordFlag("from", from)
	if err != nil {
		return nil, nil, err
	}
	t, err := coordFlag("to", to)
	if err != nil {
		return nil, nil, err
	}
	return f, t, nil
}

func pathCmd() clientCommand {
	var from, to, typ string
	return clientCommand{
		use:   "path",
		short: "Print the cheapest path between two memories (by edge weight)",
		long:  `Prints {"path": [coordinate...]}: [from] when --from equals --to, [] when there is no path.`,
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&from, "from", "", "start coordinate")
			fs.StringVar(&to, "to", "", "end coordinate")
			fs.StringVar(&typ, "type", "", "follow only links of this type")
		},
		required: []string{"from", "to"},
		run: func(ctx context.Context, e *clientEnv) error {
			f, t, err := fromTo(from, to)
			if err != nil {
				return err
			}
			path, err := read(ctx, e, func(ctx context.Context) ([]soma.Coordinate, error) { return e.client.ShortestPath(ctx, f, t, typ) })
			if err != nil {
				return err
			}
			return e.print(map[string]any{"path": path}, func(w io.Writer) error { return coordsTable(w, path) })
		},
	}
}

func neighborsCmd() clientCommand {
	var coord, typ string
	var limit int
	return clientCommand{
		use:   "neighbors",
		short: "Print the outgoing links of a memory",
		long:  `Prints {"neighbors": [[to, {"to", "type", "weight", "timestamp"}]...]} in insertion order (the shape of GET /neighbors).`,
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&coord, "coord", "", "coordinate")
			fs.StringVar(&typ, "type", "", "only links of this type")
			fs.IntVar(&limit, "limit", 0, "at most this many links (default: the server's, 1000)")
		},
		required: []string{"coord"},
		run: func(ctx context.Context, e *clientEnv) error {
			c, err := coordFlag("coord", coord)
			if err != nil {
				return err
			}
			if limit < 0 {
				return usageError{fmt.Errorf("--limit %d: want ≥ 1", limit)}
			}
			edges, err := read(ctx, e, func(ctx context.Context) ([]soma.Edge, error) {
				return e.client.Neighbors(ctx, c, soma.NeighborsOptions{Type: typ, Limit: limit})
			})
			if err != nil {
				return err
			}
			return e.print(neighborsOutput(edges), func(w io.Writer) error { return edgesTable(w, edges) })
		},
	}
}

func rangeCmd() clientCommand {
	var lo, hi, typ string
	return clientCommand{
		use:   "range",
		short: "Print the coordinates between two bounds (inclusive)",
		long: `Prints {"coords": [coordinate...]}. Bounds are compared on the common prefix
of dimensions; an empty bound ("") is open.`,
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&lo, "min", "", "lower bound coordinate")
			fs.StringVar(&hi, "max", "", "upper bound coordinate")
			fs.StringVar(&typ, "type", "", "only this memory type: episodic or semantic")
		},
		required: []string{"min", "max"},
		run: func(ctx context.Context, e *clientEnv) error {
			l, err := coordFlag("min", lo)
			if err != nil {
				return err
			}
			h, err := coordFlag("max", hi)
			if err != nil {
				return err
			}
			t, err := memoryType(typ)
			if err != nil {
				return err
			}
			coords, err := read(ctx, e, func(ctx context.Context) ([]soma.Coordinate, error) {
				return e.client.Range(ctx, soma.RangeRequest{Min: l, Max: h, Type: t})
			})
			if err != nil {
				return err
			}
			return e.print(map[string]any{"coords": coords}, func(w io.Writer) error { return coordsTable(w, coords) })
		},
	}
}

func statsCmd() clientCommand {
	return clientCommand{
		use:   "stats",
		short: `Count the namespace's memories: {"total_memories", "episodic", "semantic"}`,
		long:  `Prints {"total_memories", "episodic", "semantic"}.`,
		run: func(ctx context.Context, e *clientEnv) error {
			s, err := read(ctx, e, e.client.Stats)
			if err != nil {
				return err
			}
			return e.print(s, func(w io.Writer) error { return statsTable(w, s) })
		},
	}
}

func deleteCmd() clientCommand {
	var coord string
	return clientCommand{
		use:      "delete",
		short:    "Delete the memory at a coordinate (its vector and links too)",
		long:     `Prints {"deleted": 1 when it existed else 0, "event_ids", "consistency_token"}.`,
		flags:    func(fs *pflag.FlagSet) { fs.StringVar(&coord, "coord", "", "coordinate") },
		required: []string{"coord"},
		run: func(ctx context.Context, e *clientEnv) error {
			c, err := coordFlag("coord", coord)
			if err != nil {
				return err
			}
			res, err := e.client.Delete(ctx, c)
			if err != nil {
				return err
			}
			e.wrote()
			return e.print(res, nil)
		},
	}
}

func deleteManyCmd() clientCommand {
	var coords string
	return clientCommand{
		use:   "delete-many",
		short: `Delete several memories: --coords "1,2,3;4,5,6"`,
		long:  `Prints {"deleted": how many existed, "event_ids", "consistency_token"}.`,
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&coords, "coords", "", `coordinates separated by semicolons, e.g. "1,2,3;4,5,6"`)
		},
		required: []string{"coords"},
		run: func(ctx context.Context, e *clientEnv) error {
			var list []soma.Coordinate
			for part := range strings.SplitSeq(coords, ";") {
				if strings.TrimSpace(part) == "" {
					continue
				}
				c, err := coordFlag("coords", part)
				if err != nil {
					return err
				}
				list = append(list, c)
			}
			res, err := e.client.DeleteMany(ctx, list)
			if err != nil {
				return err
			}
			e.wrote()
			return e.print(res, nil)
		},
	}
}

func exportCmd() clientCommand {
	var path string
	return clientCommand{
		use:   "export-memories",
		short: "Write every memory of the namespace to an NDJSON file",
		long: `Streams the namespace as NDJSON, the format import-memories reads: one record
per line, then its edges as {"link": {...}} lines. Writes to --path ("-" for standard output). A progress bar is shown on a
terminal. Prints {"exported": records, "path": ...} unless writing to standard
output.`,
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&path, "path", "", `NDJSON file to write ("-": standard output)`)
		},
		required: []string{"path"},
		run: func(ctx context.Context, e *clientEnv) error {
			return runExport(ctx, e, path)
		},
	}
}

func importCmd() clientCommand {
	var path string
	var replace bool
	return clientCommand{
		use:   "import-memories",
		short: "Store the memories of an NDJSON export",
		long: `Reads NDJSON records (the export-memories format) from --path ("-" for
standard input) and sends them in chunks. Without --replace, records whose
coordinate already holds a memory are skipped. A malformed line is reported by
its line number. A progress bar is shown on a terminal.
Link lines are linked after every record.
Prints {"imported", "skipped", "linked", "consistency_token"}: records stored,
records skipped, edges re-created.`,
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&path, "path", "", `NDJSON file to read ("-": standard input)`)
			fs.BoolVar(&replace, "replace", false, "replace memories that already exist")
		},
		required: []string{"path"},
		run: func(ctx context.Context, e *clientEnv) error {
			return runImport(ctx, e, path, replace)
		},
	}
}
