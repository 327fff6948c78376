// Package direct is the write path of direct-write mode
// (EVENTING_ENABLED=false, or no Kafka configured): the canonical store
// appends each command's events to its event_log (the log of this mode)
// and applies them to itself in one transaction; the same events, with
// their event_log positions, are then applied synchronously to the other
// read models by the same projection code the projector runs. A read model
// that fails is caught up from the event_log in the background, so nothing
// accepted into the log is ever lost to a read model.
package direct

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/projections"
)

// Log is the canonical store of direct mode (Postgres or embedded).
type Log interface {
	// Append appends events to event_log and applies them to the store in
	// one transaction, returning them with their positions
	// (consistency.EventLogSource, partition 0, offset = sequence).
	Append(ctx context.Context, events []domain.Event) ([]projections.Envelope, error)
	// Events returns up to limit logged events after sequence after, in
	// order (for catching up the other read models and for replay).
	Events(ctx context.Context, after int64, limit int) ([]projections.Envelope, error)
}

// Sink implements commands.EventSink for direct mode.
//
// Appends are group-committed: one writer goroutine takes every append
// waiting at that moment (up to maxGroupEvents events) and writes them in
// one log transaction, so concurrent single stores share a commit. Each
// append stays atomic (all its events are in that one transaction); if the
// group's transaction is refused because of one append's event, the
// appends of the group are retried one by one so only that one fails.
type Sink struct {
	log    Log
	others []projections.Projection
	// ApplyTimeout bounds the synchronous apply to each other read model.
	applyTimeout time.Duration
	logger       *slog.Logger
	kick         chan struct{}

	queue chan *pending
	start sync.Once
	stop  chan struct{}
}

// maxGroupEvents bounds the events of one group commit.
const maxGroupEvents = 2000

type pending struct {
	events []domain.Event
	done   chan result
}

type result struct {
	tok consistency.Token
	err error
}

// New returns a sink appending to log and applying to others.
func New(log Log, others []projections.Projection, applyTimeout time.Duration, logger *slog.Logger) *Sink {
	if applyTimeout <= 0 {
		applyTimeout = 5 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Sink{log: log, others: others, applyTimeout: applyTimeout, logger: logger, kick: make(chan struct{}, 1),
		queue: make(chan *pending, 1024), stop: make(chan struct{})}
}

// Close stops the writer; appends after Close fail.
func (s *Sink) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
}

var _ commands.EventSink = (*Sink)(nil)

// ErrReadModelBehind says the events are in the log but a read model could
// not apply them yet; the catch-up loop will.
var ErrReadModelBehind = errors.New("read model behind the log")

// Append implements commands.EventSink. It returns after the log and every
// read model applied the events. If a read model fails, the events stay
// in the log (they are not lost and will reach that read model by the
// catch-up loop) and the error wraps commands.ErrUnavailable and
// ErrReadModelBehind. If ctx ends first, the append may still be written.
func (s *Sink) Append(ctx context.Context, events []domain.Event) (consistency.Token, error) {
	if len(events) == 0 {
		return consistency.Token{Source: consistency.EventLogSource}, nil
	}
	s.start.Do(func() { go s.writer() })
	p := &pending{events: events, done: make(chan result, 1)}
	select {
	case s.queue <- p:
	case <-s.stop:
		return consistency.Token{}, fmt.Errorf("%w: event log closed", commands.ErrUnavailable)
	case <-ctx.Done():
		return consistency.Token{}, fmt.Errorf("%w: %v", commands.ErrUnavailable, ctx.Err())
	}
	select {
	case r := <-p.done:
		return r.tok, r.err
	case <-ctx.Done():
		return consistency.Token{}, fmt.Errorf("%w: %v", commands.ErrUnavailable, ctx.Err())
	}
}

// writer commits the queued appends in groups.
func (s *Sink) writer() {
	for {
		var first *pending
		select {
		case first = <-s.queue:
		case <-s.stop:
			return
		}
		group := []*pending{first}
		n := len(first.events)
	drain:
		for n < maxGroupEvents {
			select {
			case p := <-s.queue:
				group = append(group, p)
				n += len(p.events)
			default:
				break drain
			}
		}
		s.commit(group)
	}
}

// commit writes a group in one log transaction, then applies it to the
// other read models, and answers every append of the group.
func (s *Sink) commit(group []*pending) {
	if len(group) == 1 {
		tok, err := s.appendNow(group[0].events)
		group[0].done <- result{tok, err}
		return
	}
	var all []domain.Event
	for _, p := range group {
		all = append(all, p.events...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.applyTimeout)
	defer cancel()
	envs, err := s.log.Append(ctx, all)
	if err != nil {
		var pe *projections.PoisonError
		if errors.As(err, &pe) || errors.Is(err, projections.ErrPoison) {
			// One append's event spoils the group: retry each alone.
			for _, p := range group {
				tok, err := s.appendNow(p.events)
				p.done <- result{tok, err}
			}
			return
		}
		for _, p := range group {
			p.done <- result{consistency.Token{}, fmt.Errorf("%w: event log: %v", commands.ErrUnavailable, err)}
		}
		return
	}
	behind := s.applyOthers(envs)
	i := 0
	for _, p := range group {
		tok := consistency.Token{Source: consistency.EventLogSource}
		for _, e := range envs[i : i+len(p.events)] {
			tok.Add(e.Partition, e.Offset)
		}
		i += len(p.events)
		p.done <- result{tok, behind}
	}
}

// appendNow appends one command's events in their own transaction.
func (s *Sink) appendNow(events []domain.Event) (consistency.Token, error) {
	tok := consistency.Token{Source: consistency.EventLogSource}
	ctx, cancel := context.WithTimeout(context.Background(), s.applyTimeout)
	defer cancel()
	envs, err := s.log.Append(ctx, events)
	if err != nil {
		var pe *projections.PoisonError
		if errors.As(err, &pe) {
			return tok, fmt.Errorf("event log refused event %d: %s", pe.Index, pe.Reason)
		}
		return tok, fmt.Errorf("%w: event log: %v", commands.ErrUnavailable, err)
	}
	for _, e := range envs {
		tok.Add(e.Partition, e.Offset)
	}
	return tok, s.applyOthers(envs)
}

// applyOthers applies logged events to the other read models; an error
// says which ones are behind (the catch-up loop will bring them up).
func (s *Sink) applyOthers(envs []projections.Envelope) error {
	var behind []error
	for _, p := range s.others {
		actx, cancel := context.WithTimeout(context.Background(), s.applyTimeout)
		err := p.Apply(actx, envs)
		cancel()
		if err != nil {
			behind = append(behind, fmt.Errorf("%s: %v", p.Name(), err))
		}
	}
	if len(behind) > 0 {
		s.wake()
		return fmt.Errorf("%w: %w: events are in the log and will be applied: %v", commands.ErrUnavailable, ErrReadModelBehind, errors.Join(behind...))
	}
	return nil
}

func (s *Sink) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// CatchUp runs until ctx ends, bringing every other read model up to the
// log: at start, whenever Append saw a failure, and every interval.
func (s *Sink) CatchUp(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, p := range s.others {
			if err := CatchUp(ctx, s.log, p, 1000); err != nil && ctx.Err() == nil {
				s.logger.Warn("catch-up", "read_model", p.Name(), "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.kick:
		}
	}
}

// CatchUp applies to p every logged event after p's position, in batches.
// It is also the replay of direct mode (a fresh read model has no
// position and gets the whole log).
func CatchUp(ctx context.Context, log Log, p projections.Projection, batch int) error {
	return CatchUpProgress(ctx, log, p, batch, nil)
}

// CatchUpProgress is CatchUp reporting the last applied sequence after
// each batch.
func CatchUpProgress(ctx context.Context, log Log, p projections.Projection, batch int, progress func(applied int64, n int)) error {
	pos, err := p.Positions(ctx, consistency.EventLogSource)
	if err != nil {
		return err
	}
	after, ok := pos[0]
	if !ok {
		after = 0
	}
	for ctx.Err() == nil {
		envs, err := log.Events(ctx, after, batch)
		if err != nil {
			return err
		}
		if len(envs) == 0 {
			return nil
		}
		if err := p.Apply(ctx, envs); err != nil {
			return err
		}
		after = envs[len(envs)-1].Offset
		if progress != nil {
			progress(after, len(envs))
		}
	}
	return ctx.Err()
}
