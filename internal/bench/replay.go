package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"time"
)

// DefaultReplayDuration bounds a replay run.
const DefaultReplayDuration = time.Hour

// routeReplay is the Errors key prefix of replay runs.
const routeReplay = "replay"

// ReplayConfig configures Replay: a command line timed as a whole. `soma
// replay` is a CLI, not an HTTP route, so the harness runs it as a child
// process and parses nothing of its output.
type ReplayConfig struct {
	// Binary is the soma executable (required).
	Binary string
	// Args follow Binary, e.g. ["replay", "--read-model", "postgres"].
	// Required.
	Args []string
	// Env, when not nil, is the child's environment (else the caller's).
	Env []string
	// Runs is how many times the command runs, one after the other.
	// Default 1.
	Runs int
	// Duration bounds the whole run; the child is killed when it is
	// reached. Default DefaultReplayDuration.
	Duration time.Duration
	// Stdout and Stderr receive the child's output (discarded when nil).
	Stdout, Stderr io.Writer
}

func (c ReplayConfig) withDefaults() ReplayConfig {
	if c.Runs == 0 {
		c.Runs = 1
	}
	if c.Duration == 0 {
		c.Duration = DefaultReplayDuration
	}
	return c
}

// Validate reports every problem of the configuration (after defaults).
func (c ReplayConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Binary == "" {
		errs = append(errs, errors.New("the soma binary is required"))
	}
	if len(c.Args) == 0 {
		errs = append(errs, errors.New("the arguments of the command to time are required (e.g. replay --read-model postgres)"))
	}
	errs = append(errs, checkRange("runs", c.Runs, 1, 1000))
	if c.Duration < 0 {
		errs = append(errs, errors.New("duration must not be negative"))
	}
	return errors.Join(errs...)
}

func (c ReplayConfig) describe() map[string]any {
	return map[string]any{"binary": c.Binary, "args": c.Args, "runs": c.Runs, "duration": c.Duration.String()}
}

// Replay runs the command cfg.Runs times and reports the wall time of
// each run as the latency distribution. A run that exits non-zero is
// counted in Errors as "replay exit <code>" (or "replay kill" when it was
// stopped) and ends the series.
func Replay(ctx context.Context, cfg ReplayConfig) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	res := newResult("replay", cfg.describe())
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var lat Recorder
	var errs tally
	var runs int64
	start := time.Now()
	for range cfg.Runs {
		cmd := exec.CommandContext(runCtx, cfg.Binary, cfg.Args...) // #nosec G204 -- the benchmark runs the binary and arguments its operator configured
		cmd.Env = cfg.Env
		cmd.Stdout, cmd.Stderr = cfg.Stdout, cfg.Stderr
		cmd.WaitDelay = 10 * time.Second
		t0 := time.Now()
		err := cmd.Run()
		runs++
		if err != nil {
			var ee *exec.ExitError
			switch {
			case runCtx.Err() != nil:
				errs.add(routeReplay, "kill")
			case errors.As(err, &ee):
				errs.add(routeReplay, "exit "+strconv.Itoa(ee.ExitCode()))
			default:
				res.Stop = StopFailed
				return res, fmt.Errorf("run %s: %w", cfg.Binary, err)
			}
			break
		}
		lat.Record(time.Since(t0))
	}
	res.Stop = stopReason(ctx, runCtx)
	res.Latency = lat.Summary()
	res.finish(time.Since(start), runs, &errs)
	return res, nil
}
