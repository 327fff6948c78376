package queries

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/somafractalmemory/soma/internal/consistency"
)

// Role is a kind of data a query reads. Each query declares its roles;
// WaiterConfig.Roles says which read models serve each one, so a token is
// awaited only on the read models the query actually reads.
type Role string

// Roles of the queries.
const (
	// RoleVectors: the vector index (recall).
	RoleVectors Role = "vectors"
	// RoleRecords: the record stores (recall hydration, GET /memory).
	RoleRecords Role = "records"
	// RoleGraph: neighbours and shortest path.
	RoleGraph Role = "graph"
	// RoleRanges: range scans.
	RoleRanges Role = "ranges"
	// RoleCounters: stats.
	RoleCounters Role = "counters"
	// RoleExport: export.
	RoleExport Role = "export"
	// RoleHistory: event history.
	RoleHistory Role = "history"
)

// Waiter defaults.
const (
	DefaultPollMin = 2 * time.Millisecond
	// DefaultPollMax is the backoff cap when there is no wake source.
	DefaultPollMax = 50 * time.Millisecond
	// DefaultWakePollMax is the backoff cap with a wake source: polling is
	// then only the safety net for a lost notification.
	DefaultWakePollMax = time.Second
)

// ErrNotCaughtUp is wrapped by *LagError.
var ErrNotCaughtUp = errors.New("read models have not applied the consistency token")

// WaiterConfig configures a Waiter.
type WaiterConfig struct {
	// Readers are the read models by name ("postgres", "qdrant", "redis",
	// "embedded"), each reporting its applied positions.
	Readers map[string]PositionReader
	// Roles maps each role to the read models that serve it, e.g.
	// RoleRecords: {"redis", "postgres"}. Every name must be in Readers. A
	// role absent from the map waits for nothing.
	Roles map[Role][]string
	// Wake, when set, receives a value whenever some read model may have
	// advanced (e.g. a Postgres LISTEN notification). The sender must
	// never block: send with select/default on a channel of capacity ≥ 1.
	// Nil: waiters poll with backoff.
	Wake <-chan struct{}
	// Timeout bounds one wait (SOMA_CONSISTENCY_TIMEOUT). Required.
	Timeout time.Duration
	// PollMin and PollMax bound the polling backoff (doubling from PollMin
	// up to PollMax). Zero: DefaultPollMin, and DefaultPollMax without a
	// wake source or DefaultWakePollMax with one.
	PollMin, PollMax time.Duration
}

// Validate reports every problem at once.
func (c WaiterConfig) Validate() error {
	var errs []error
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("consistency timeout must be > 0, got %s", c.Timeout))
	}
	if c.PollMin < 0 || c.PollMax < 0 || (c.PollMax > 0 && c.PollMin > c.PollMax) {
		errs = append(errs, fmt.Errorf("consistency poll backoff must satisfy 0 <= min <= max, got %s..%s", c.PollMin, c.PollMax))
	}
	for name, r := range c.Readers {
		if r == nil {
			errs = append(errs, fmt.Errorf("consistency: read model %q has no position reader", name))
		}
	}
	roles := make([]Role, 0, len(c.Roles))
	for role := range c.Roles {
		roles = append(roles, role)
	}
	slices.Sort(roles)
	for _, role := range roles {
		for _, name := range c.Roles[role] {
			if _, ok := c.Readers[name]; !ok {
				errs = append(errs, fmt.Errorf("consistency: role %s names read model %q, which has no position reader", role, name))
			}
		}
	}
	return errors.Join(errs...)
}

// Waiter makes queries wait until the read models they read have applied
// the positions of a consistency token. It is safe for concurrent use and
// needs no goroutine of its own: a waiter that receives from the wake
// source wakes all the others.
type Waiter struct {
	readers          map[string]PositionReader
	roles            map[Role][]string
	wake             <-chan struct{}
	timeout          time.Duration
	pollMin, pollMax time.Duration

	mu     sync.Mutex
	notify chan struct{} // closed and replaced on every wake-up
}

// NewWaiter validates cfg and builds a Waiter.
func NewWaiter(cfg WaiterConfig) (*Waiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Waiter{
		readers: cfg.Readers, roles: cfg.Roles, wake: cfg.Wake, timeout: cfg.Timeout,
		pollMin: cfg.PollMin, pollMax: cfg.PollMax, notify: make(chan struct{}),
	}
	if w.pollMin == 0 {
		w.pollMin = DefaultPollMin
	}
	if w.pollMax == 0 {
		w.pollMax = DefaultPollMax
		if w.wake != nil {
			w.pollMax = DefaultWakePollMax
		}
	}
	w.pollMin = min(w.pollMin, w.pollMax)
	return w, nil
}

// Timeout is the bound of one wait.
func (w *Waiter) Timeout() time.Duration { return w.timeout }

// ReadModels returns the read models serving roles, sorted, without
// duplicates.
func (w *Waiter) ReadModels(roles ...Role) []string {
	var names []string
	for _, r := range roles {
		names = append(names, w.roles[r]...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Lagging is one read model that has not applied a token.
type Lagging struct {
	ReadModel string
	// Partition, Want (the token's offset) and Applied (-1: nothing
	// applied) when the positions could be read.
	Partition int32
	Want      int64
	Applied   int64
	// Err is set instead when the positions could not be read.
	Err error
}

// LagError says which read models did not apply a token in time.
type LagError struct {
	Source  string
	Timeout time.Duration
	// Lagging lists the partitions still behind, by read model then
	// partition.
	Lagging []Lagging
}

func (e *LagError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v within %s:", ErrNotCaughtUp, e.Timeout)
	for i, l := range e.Lagging {
		if i > 0 {
			b.WriteByte(';')
		}
		if l.Err != nil {
			fmt.Fprintf(&b, " %s positions unavailable", l.ReadModel)
			continue
		}
		fmt.Fprintf(&b, " %s partition %d applied %d of %d", l.ReadModel, l.Partition, l.Applied, l.Want)
	}
	return b.String()
}

// Unwrap returns ErrNotCaughtUp and the errors of unreadable positions.
func (e *LagError) Unwrap() []error {
	out := []error{ErrNotCaughtUp}
	for _, l := range e.Lagging {
		if l.Err != nil {
			out = append(out, l.Err)
		}
	}
	return out
}

// Wait returns nil once every read model serving roles has applied tok
// (tok.Missing of its positions for tok.Source is empty). It re-reads the
// positions of the read models still behind on every wake-up and at
// backoff intervals, and gives up after the timeout with a *LagError. A
// read model whose positions cannot be read counts as behind until it
// answers. ctx's error is returned when ctx ends first. The zero token
// returns at once.
func (w *Waiter) Wait(ctx context.Context, tok consistency.Token, roles ...Role) error {
	if tok.IsZero() {
		return nil
	}
	pending := w.ReadModels(roles...)
	if len(pending) == 0 {
		return nil
	}
	deadline := time.Now().Add(w.timeout)
	rctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	delay := w.pollMin
	last := map[string][]Lagging{} // latest lag read per read model
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		// Taken before reading positions, so a wake-up that arrives while
		// reading is not lost.
		notify := w.current()
		var lagging []Lagging
		still := pending[:0:0]
		for _, name := range pending {
			applied, err := w.readers[name].Positions(rctx, tok.Source)
			if err != nil {
				if prev, ok := last[name]; ok && rctx.Err() != nil {
					// Cut off by the deadline: report what was last seen.
					lagging = append(lagging, prev...)
				} else {
					lagging = append(lagging, Lagging{ReadModel: name, Err: err})
				}
				still = append(still, name)
				continue
			}
			missing := tok.Missing(applied)
			if len(missing) == 0 {
				continue
			}
			entries := make([]Lagging, len(missing))
			for i, m := range missing {
				entries[i] = Lagging{ReadModel: name, Partition: m.Partition, Want: m.Want, Applied: m.Applied}
			}
			last[name] = entries
			lagging = append(lagging, entries...)
			still = append(still, name)
		}
		pending = still
		if len(pending) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("wait for consistency token: %w", err)
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return &LagError{Source: tok.Source, Timeout: w.timeout, Lagging: lagging}
		}
		d := min(delay, remaining)
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-notify:
			timer.Stop()
		case <-w.wake:
			timer.Stop()
			w.broadcast()
		case <-timer.C:
			delay = min(delay*2, w.pollMax)
		case <-ctx.Done():
			return fmt.Errorf("wait for consistency token: %w", ctx.Err())
		}
	}
}

func (w *Waiter) current() chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.notify
}

// broadcast wakes every waiter.
func (w *Waiter) broadcast() {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.notify)
	w.notify = make(chan struct{})
}
