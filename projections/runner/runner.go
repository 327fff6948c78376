// Package runner feeds a read model from the event topic.
//
// One Runner is one consumer group (one per read model) reading the topic
// with sarama's consumer-group API — the library watermill-kafka wraps.
// watermill-kafka's own subscriber hands out one message per partition at a
// time and commits each on ack, which rules out the per-poll batch
// transactions the read models need and seeking to a read model's own
// checkpoint; so the runner consumes claims directly, in batches:
//
//   - On every (re)assignment it seeks each partition to the read model's
//     applied position + 1 (the read model's checkpoint is the truth; the
//     group's committed offset only says where a brand-new read model
//     starts, which is the oldest offset).
//   - It collects up to BatchSize messages or BatchWait, decodes them
//     (events that can never decode go to the dead-letter topic), applies
//     the batch in one read-model transaction and only then marks the
//     offset. A transient failure retries the same batch with backoff and
//     never moves past it; readiness reports the stall.
//   - A PoisonError from Apply dead-letters that one event and applies the
//     rest again.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/projections"
)

// Decoder turns a message value (Confluent framing + Avro) into an event.
type Decoder interface {
	Decode(b []byte) (domain.Event, error)
}

// DeadLetters receives events that can never be applied.
type DeadLetters interface {
	DeadLetter(ctx context.Context, msg *sarama.ConsumerMessage, projection, reason string) error
}

// Config of a Runner.
type Config struct {
	Topic string
	// Group is the consumer group, e.g. "soma.projection.postgres.v1".
	Group     string
	BatchSize int           // default 500
	BatchWait time.Duration // default 20ms
	RetryMin  time.Duration // default 100ms
	RetryMax  time.Duration // default 10s
	// StallAfter: Ready fails once a batch has failed for this long.
	StallAfter time.Duration // default 30s
}

func (c Config) withDefaults() Config {
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.BatchWait <= 0 {
		c.BatchWait = 20 * time.Millisecond
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 10 * time.Second
	}
	if c.StallAfter <= 0 {
		c.StallAfter = 30 * time.Second
	}
	return c
}

// Runner feeds one projection.
type Runner struct {
	proj      projections.Projection
	client    sarama.Client
	group     sarama.ConsumerGroup
	dec       Decoder
	permanent func(error) bool
	dlq       DeadLetters
	m         *Metrics
	cfg       Config
	log       *slog.Logger

	mu           sync.Mutex
	failingSince time.Time
	lastErr      error
}

// New returns a runner joining cfg.Group through client (configured with
// kafkaconf.Settings.Consumer). permanent classifies decode errors that can
// never succeed (schemas.Permanent); other decode errors are retried.
func New(proj projections.Projection, client sarama.Client, dec Decoder, permanent func(error) bool, dlq DeadLetters, m *Metrics, cfg Config, log *slog.Logger) (*Runner, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	group, err := sarama.NewConsumerGroupFromClient(cfg.Group, client)
	if err != nil {
		return nil, fmt.Errorf("consumer group %s: %w", cfg.Group, err)
	}
	return &Runner{proj: proj, client: client, group: group, dec: dec, permanent: permanent, dlq: dlq, m: m, cfg: cfg,
		log: log.With("projection", proj.Name(), "group", cfg.Group)}, nil
}

// Run consumes until ctx is cancelled; then it finishes the batch in
// flight (bounded by the read model) and returns nil.
func (r *Runner) Run(ctx context.Context) error {
	go func() {
		for err := range r.group.Errors() {
			r.log.Warn("consumer group error", "err", err)
		}
	}()
	h := &handler{r: r}
	backoff := r.cfg.RetryMin
	for ctx.Err() == nil {
		err := r.group.Consume(ctx, []string{r.cfg.Topic}, h)
		switch {
		case err == nil:
			backoff = r.cfg.RetryMin
		case errors.Is(err, sarama.ErrClosedConsumerGroup):
			return nil
		default:
			r.log.Warn("consume", "err", err)
			r.fail(err)
			if !sleep(ctx, backoff) {
				return nil
			}
			backoff = min(backoff*2, r.cfg.RetryMax)
		}
	}
	return nil
}

// Close leaves the group.
func (r *Runner) Close() error { return r.group.Close() }

// Ready is nil unless the runner has been failing for StallAfter.
func (r *Runner) Ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.failingSince.IsZero() && time.Since(r.failingSince) >= r.cfg.StallAfter {
		return fmt.Errorf("projection %s stalled for %s: %v", r.proj.Name(), time.Since(r.failingSince).Round(time.Second), r.lastErr)
	}
	return nil
}

func (r *Runner) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failingSince.IsZero() {
		r.failingSince = time.Now()
	}
	r.lastErr = err
	r.m.failure.WithLabelValues(r.proj.Name()).Inc()
	r.m.stalled.WithLabelValues(r.proj.Name()).Set(1)
}

func (r *Runner) ok() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failingSince, r.lastErr = time.Time{}, nil
	r.m.stalled.WithLabelValues(r.proj.Name()).Set(0)
}

// handler implements sarama.ConsumerGroupHandler.
type handler struct{ r *Runner }

// Setup seeks every claimed partition to the read model's position + 1.
func (h *handler) Setup(sess sarama.ConsumerGroupSession) error {
	r := h.r
	var pos map[int32]int64
	var err error
	backoff := r.cfg.RetryMin
	for {
		pos, err = r.proj.Positions(sess.Context(), r.cfg.Topic)
		if err == nil {
			break
		}
		r.fail(fmt.Errorf("read positions: %w", err))
		if !sleep(sess.Context(), backoff) {
			return sess.Context().Err()
		}
		backoff = min(backoff*2, r.cfg.RetryMax)
	}
	for topic, parts := range sess.Claims() {
		for _, p := range parts {
			next := int64(0)
			if off, ok := pos[p]; ok {
				next = off + 1
			} else if next, err = r.client.GetOffset(topic, p, sarama.OffsetOldest); err != nil {
				// A read model that applied nothing starts at the oldest
				// offset, whatever the group committed before.
				return fmt.Errorf("oldest offset of %s[%d]: %w", topic, p, err)
			}
			// ResetOffset moves backwards, MarkOffset forwards.
			sess.ResetOffset(topic, p, next, "")
			sess.MarkOffset(topic, p, next, "")
		}
	}
	r.log.Info("partitions assigned", "claims", sess.Claims(), "positions", pos)
	return nil
}

func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim applies the partition's messages in batches.
func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	r := h.r
	part := strconv.Itoa(int(claim.Partition()))
	batch := make([]*sarama.ConsumerMessage, 0, r.cfg.BatchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		batch = batch[:0]
		// Block for the first message, then fill up to BatchSize or BatchWait.
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			batch = append(batch, msg)
		case <-sess.Context().Done():
			return nil
		}
		timer.Reset(r.cfg.BatchWait)
	fill:
		for len(batch) < r.cfg.BatchSize {
			select {
			case msg, ok := <-claim.Messages():
				if !ok {
					break fill
				}
				batch = append(batch, msg)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		r.m.consumed.WithLabelValues(claim.Topic()).Add(float64(len(batch)))
		if err := r.process(sess.Context(), batch); err != nil {
			return nil // session ended while retrying; the next session resumes from the read model's position
		}
		last := batch[len(batch)-1]
		sess.MarkMessage(last, "")
		r.m.offset.WithLabelValues(r.proj.Name(), part).Set(float64(last.Offset))
		r.m.lag.WithLabelValues(r.proj.Name(), part).Set(float64(max(0, claim.HighWaterMarkOffset()-last.Offset-1)))
	}
}

// process decodes and applies one batch; it returns only when the batch
// is applied (or dead-lettered) or ctx ends.
func (r *Runner) process(ctx context.Context, msgs []*sarama.ConsumerMessage) error {
	envs := make([]projections.Envelope, 0, len(msgs))
	src := make([]*sarama.ConsumerMessage, 0, len(msgs))
	for _, m := range msgs {
		for {
			e, err := r.dec.Decode(m.Value)
			if err == nil {
				envs = append(envs, projections.Envelope{Event: e, Source: m.Topic, Partition: m.Partition, Offset: m.Offset})
				src = append(src, m)
				break
			}
			if r.permanent(err) {
				if err := r.deadLetter(ctx, m, "undecodable: "+err.Error()); err != nil {
					return err
				}
				break
			}
			if err := r.retry(ctx, fmt.Errorf("decode: %w", err)); err != nil {
				return err
			}
		}
	}
	for len(envs) > 0 {
		start := time.Now()
		err := r.proj.Apply(ctx, envs)
		if err == nil {
			r.ok()
			r.m.latency.WithLabelValues(r.proj.Name()).Observe(time.Since(start).Seconds())
			r.m.success.Add(float64(len(envs)))
			r.m.batchSize.WithLabelValues(r.proj.Name()).Observe(float64(len(envs)))
			r.m.applied.WithLabelValues(r.proj.Name(), strconv.Itoa(int(envs[0].Partition))).Add(float64(len(envs)))
			return nil
		}
		var pe *projections.PoisonError
		if errors.As(err, &pe) && pe.Index >= 0 && pe.Index < len(envs) {
			if err := r.deadLetter(ctx, src[pe.Index], pe.Reason); err != nil {
				return err
			}
			envs = append(envs[:pe.Index:pe.Index], envs[pe.Index+1:]...)
			src = append(src[:pe.Index:pe.Index], src[pe.Index+1:]...)
			continue
		}
		if errors.Is(err, projections.ErrPoison) && len(envs) > 1 {
			// Poison without a position: apply one event at a time (a
			// read model skips what it already applied) to find it.
			for i := range envs {
				if err := r.applyOne(ctx, envs[i], src[i]); err != nil {
					return err
				}
			}
			return nil
		}
		if errors.Is(err, projections.ErrPoison) {
			return r.deadLetter(ctx, src[0], err.Error())
		}
		if err := r.retry(ctx, fmt.Errorf("apply %d events: %w", len(envs), err)); err != nil {
			return err
		}
	}
	return nil
}

// applyOne applies a single event, dead-lettering it if it is poison.
func (r *Runner) applyOne(ctx context.Context, env projections.Envelope, m *sarama.ConsumerMessage) error {
	for {
		err := r.proj.Apply(ctx, []projections.Envelope{env})
		if err == nil {
			r.ok()
			r.m.success.Inc()
			r.m.applied.WithLabelValues(r.proj.Name(), strconv.Itoa(int(env.Partition))).Inc()
			return nil
		}
		if errors.Is(err, projections.ErrPoison) {
			return r.deadLetter(ctx, m, err.Error())
		}
		if err := r.retry(ctx, fmt.Errorf("apply event at %d: %w", env.Offset, err)); err != nil {
			return err
		}
	}
}

// retry records a transient failure and waits the backoff.
func (r *Runner) retry(ctx context.Context, err error) error {
	r.fail(err)
	r.mu.Lock()
	since := time.Since(r.failingSince)
	r.mu.Unlock()
	wait := min(r.cfg.RetryMin<<min(int(since/r.cfg.RetryMin), 16), r.cfg.RetryMax)
	r.log.Warn("retrying", "err", err, "after", wait)
	if !sleep(ctx, wait) {
		return ctx.Err()
	}
	return nil
}

func (r *Runner) deadLetter(ctx context.Context, m *sarama.ConsumerMessage, reason string) error {
	for {
		err := r.dlq.DeadLetter(ctx, m, r.proj.Name(), reason)
		if err == nil {
			r.m.dead.WithLabelValues(r.proj.Name(), reasonLabel(reason)).Inc()
			r.log.Error("event dead-lettered", "partition", m.Partition, "offset", m.Offset, "reason", reason)
			return nil
		}
		if err := r.retry(ctx, fmt.Errorf("dead-letter: %w", err)); err != nil {
			return err
		}
	}
}

func reasonLabel(reason string) string {
	if len(reason) >= 11 && reason[:11] == "undecodable" {
		return "undecodable"
	}
	return "unappliable"
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Name is the read model's name.
func (r *Runner) Name() string { return r.proj.Name() }
