package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/somafractalmemory/soma/internal/bench"
)

// benchFlags are the flags every `soma bench` subcommand shares.
type benchFlags struct {
	url, queryURL, token, namespace string
	seed                            int64
	json, allowRemote               bool
	timeout                         time.Duration
	concurrency                     int
}

func (f *benchFlags) target() bench.Target {
	ns := f.namespace
	if ns == "" {
		ns = bench.DefaultNamespace(f.seed, time.Now())
	}
	token := f.token
	if token == "" {
		token = os.Getenv("SOMA_API_TOKEN")
	}
	return bench.Target{URL: f.url, QueryURL: f.queryURL, Token: token, Namespace: ns, AllowRemote: f.allowRemote, Timeout: f.timeout}
}

func newBenchCmd() *cobra.Command {
	f := &benchFlags{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark a running server over HTTP (ingest, recall, write→visible) or time a replay",
		Long: `Drives deterministic, seeded workloads against a running SomaFractalMemory
over its HTTP API, as any client would, and reports throughput, latency
percentiles (ms), errors by route and status, and misses.

Runs are bounded in count and time and stop by themselves. URLs must be
loopback addresses unless --allow-remote. Each run writes into a fresh
namespace (bench-<seed>-<unix ms>) unless --namespace is given. Run the
server with SOMA_RATE_LIMIT_MAX=0, or its rate limit will answer 429s.

Exit status 1 when any request failed or (with the token) any read missed.`,
		Args: cobra.NoArgs,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.url, "url", bench.DefaultURL, "base URL of the write API")
	pf.StringVar(&f.queryURL, "query-url", "", "base URL of the query API (default: --url)")
	pf.StringVar(&f.token, "token", "", "API bearer token (default $SOMA_API_TOKEN)")
	pf.StringVar(&f.namespace, "namespace", "", "namespace to write and read (default: a fresh bench-<seed>-<unix ms>)")
	pf.Int64Var(&f.seed, "seed", 1, "workload seed: the same seed gives the same memories and queries")
	pf.BoolVar(&f.json, "json", false, "print the result as JSON instead of a table")
	pf.BoolVar(&f.allowRemote, "allow-remote", false, "allow URLs that are not loopback addresses")
	pf.DurationVar(&f.timeout, "timeout", bench.DefaultTimeout, "timeout of each request")
	pf.IntVar(&f.concurrency, "concurrency", 0, "requests (or operations) in flight (default: 8; e2e 64)")
	cmd.AddCommand(newBenchIngestCmd(f), newBenchRecallCmd(f), newBenchE2ECmd(f), newBenchReplayCmd(f))
	return cmd
}

func newBenchIngestCmd(f *benchFlags) *cobra.Command {
	cfg := bench.IngestConfig{}
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Store --n memories via /store_bulk (--batch) or /store (--batch 1) and report memories/s",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg.Target, cfg.Seed, cfg.Concurrency = f.target(), f.seed, f.concurrency
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			say(c, "ingest: %d memories, batch %d, concurrency %s, namespace %s", cfg.N, cfg.Batch, orDefault(cfg.Concurrency), cfg.Target.Namespace)
			res, err := bench.Ingest(c.Context(), cfg)
			return report(c, f, res, err, true)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&cfg.N, "n", bench.DefaultN, "memories to store")
	fl.IntVar(&cfg.Batch, "batch", 100, "items per /store_bulk request; 0 or 1: one /store per memory")
	fl.DurationVar(&cfg.Duration, "duration", bench.DefaultMaxDuration, "bound on the run")
	return cmd
}

func newBenchRecallCmd(f *benchFlags) *cobra.Command {
	cfg := bench.RecallConfig{}
	cmd := &cobra.Command{
		Use:   "recall",
		Short: "Optionally load --load memories, then run recall queries (top_k 10) and report req/s and latency",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg.Target, cfg.Seed, cfg.Concurrency = f.target(), f.seed, f.concurrency
			if c.Flags().Changed("duration") && !c.Flags().Changed("requests") {
				cfg.Requests = -1 // --duration alone: run for that long
			}
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			say(c, "recall: load %d, requests %d, top_k %d, concurrency %s, namespace %s", cfg.Load, cfg.Requests, cfg.TopK, orDefault(cfg.Concurrency), cfg.Target.Namespace)
			res, err := bench.Recall(c.Context(), cfg)
			return report(c, f, res, err, true)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&cfg.Load, "load", 0, "memories to store first (0: recall what the namespace holds)")
	fl.IntVar(&cfg.LoadBatch, "load-batch", bench.DefaultLoadBatch, "items per /store_bulk request while loading")
	fl.IntVar(&cfg.TopK, "top-k", bench.DefaultTopK, "top_k of each recall")
	fl.IntVar(&cfg.Requests, "requests", bench.DefaultRequests, "recalls to send (-1: until --duration)")
	fl.DurationVar(&cfg.Duration, "duration", bench.DefaultMaxDuration, "bound on the load and on the recalls, each")
	return cmd
}

func newBenchE2ECmd(f *benchFlags) *cobra.Command {
	cfg := bench.E2EConfig{}
	cmd := &cobra.Command{
		Use:   "e2e",
		Short: "Store one memory, read it back with the consistency token; write→visible latency at --rate per second",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg.Target, cfg.Seed, cfg.Concurrency = f.target(), f.seed, f.concurrency
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			say(c, "e2e: %g/s for %s, token %t, concurrency %s, namespace %s", cfg.Rate, cfg.Duration, !cfg.NoToken, orDefault(cfg.Concurrency), cfg.Target.Namespace)
			res, err := bench.E2E(c.Context(), cfg)
			// Without the token misses are what is being measured.
			return report(c, f, res, err, !cfg.NoToken)
		},
	}
	fl := cmd.Flags()
	fl.Float64Var(&cfg.Rate, "rate", bench.DefaultRate, "operations (store + read) started per second")
	fl.DurationVar(&cfg.Duration, "duration", bench.DefaultE2EDuration, "length of the run")
	fl.IntVar(&cfg.Requests, "requests", 0, "also stop after this many operations (0: no count bound)")
	fl.BoolVar(&cfg.NoToken, "no-token", false, "read without the consistency token and count the misses")
	return cmd
}

func newBenchReplayCmd(f *benchFlags) *cobra.Command {
	cfg := bench.ReplayConfig{}
	cmd := &cobra.Command{
		Use:   "replay [--cmd path/to/soma] -- replay [replay flags]",
		Short: "Time a `soma replay` command line (run as a child process; its output is passed through)",
		RunE: func(c *cobra.Command, args []string) error {
			if cfg.Binary == "" {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("find the soma binary (pass --cmd): %w", err)
				}
				cfg.Binary = exe
			}
			cfg.Args = args
			cfg.Stdout, cfg.Stderr = c.ErrOrStderr(), c.ErrOrStderr()
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			say(c, "replay: %s %v (%d runs)", cfg.Binary, cfg.Args, cfg.Runs)
			res, err := bench.Replay(c.Context(), cfg)
			return report(c, f, res, err, true)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.Binary, "cmd", "", "soma binary to run (default: this one)")
	fl.IntVar(&cfg.Runs, "runs", 1, "times to run the command")
	fl.DurationVar(&cfg.Duration, "duration", bench.DefaultReplayDuration, "bound on all runs")
	return cmd
}

// report prints the result (table or JSON) and turns failed requests, and
// misses when strict, into a non-zero exit.
func report(c *cobra.Command, f *benchFlags, res *bench.Result, runErr error, strictMisses bool) error {
	if res != nil {
		var err error
		if f.json {
			err = res.WriteJSON(c.OutOrStdout())
		} else {
			err = res.WriteTable(c.OutOrStdout())
		}
		if err != nil {
			return err
		}
	}
	if runErr != nil {
		return runErr
	}
	if errors.Is(c.Context().Err(), context.Canceled) {
		return errors.New("interrupted")
	}
	var failed int64
	for _, n := range res.Errors {
		failed += n
	}
	var problems []error
	if failed > 0 {
		problems = append(problems, fmt.Errorf("failed requests: %d", failed))
	}
	if strictMisses && res.Misses > 0 {
		problems = append(problems, fmt.Errorf("misses: %d", res.Misses))
	}
	return errors.Join(problems...)
}

// say writes a progress line to stderr, keeping stdout for the result.
func say(c *cobra.Command, format string, a ...any) {
	fmt.Fprintf(c.ErrOrStderr(), format+"\n", a...)
}

func orDefault(n int) string {
	if n == 0 {
		return "default"
	}
	return fmt.Sprint(n)
}
