// Package redis is the hot read model in Redis: one hash per memory (the
// fields domain.Memory needs, never the embedding) for recall hydration,
// per-namespace counters, and the applied position of every (source,
// partition). See Keys for the layout.
//
// Apply. The batch is validated first (a *PoisonError wrapping
// projections.ErrPoison, and nothing written, for an event that can never
// apply); the record values are computed in Go and a Lua script applies
// the events inside Redis: for each event it compares the offset with the
// stored position of its (source, partition), skips it when not newer,
// and otherwise changes the record, the counters and the position. The
// batch is cut into chunks of Config.ChunkEvents events, one script call
// each, and all chunks of one call go in one MULTI/EXEC: Redis runs them
// back to back, and a connection lost before EXEC applies nothing. The
// script raises no error for a validated event, so a call is applied
// whole or not at all; in any case positions move with the data, so a
// retried batch converges to the same state.
//
// Generations. Keys live under "<prefix>:{<generation>}:". A replay
// writes a new generation beside the serving one and, once caught up,
// Promote points "<prefix>:current" at it; readers resolve the pointer
// with Current. DeleteGeneration removes an old generation.
//
// Concurrency. A Projection is safe for concurrent use. Calls for
// different partitions may run concurrently (counters are changed with
// HINCRBY inside the script); one partition must not be applied from two
// places at once (a consumer group gives each partition to one member).
//
// Works with Redis 5 or later, standalone, replicated or as a Cluster
// (every key of a generation is in one hash slot).
package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/projections"
)

// Projection applies events to one generation of the Redis read model.
type Projection struct {
	client goredis.UniversalClient
	cfg    Config
	keys   Keys
	script *goredis.Script
	reader *Reader
	err    error // configuration error, returned by every call
}

var _ projections.Projection = (*Projection)(nil)

// New returns the projection writing cfg.Generation under cfg.Prefix. It
// does no I/O; an invalid config or a nil client is returned by every
// later call.
func New(client goredis.UniversalClient, cfg Config) *Projection {
	cfg = cfg.withDefaults()
	p := &Projection{client: client, cfg: cfg, keys: NewKeys(cfg.Prefix, cfg.Generation), script: goredis.NewScript(applyScript)}
	p.err = cfg.Validate()
	if client == nil {
		p.err = errors.Join(p.err, fmt.Errorf("%w: nil client", ErrInvalidConfig))
	}
	p.reader = &Reader{client: client, keys: p.keys}
	return p
}

// Name is projections.Redis.
func (p *Projection) Name() string { return projections.Redis }

// Prefix is the key prefix written to.
func (p *Projection) Prefix() string { return p.cfg.Prefix }

// Generation is the generation written to.
func (p *Projection) Generation() string { return p.cfg.Generation }

// Keys is the key layout of the generation written to.
func (p *Projection) Keys() Keys { return p.keys }

// Apply applies batch (see the package documentation). Errors other than
// *PoisonError (connection, timeout, cancellation, a key of the wrong type
// written by something else) are transient: retry the same batch.
func (p *Projection) Apply(ctx context.Context, batch []projections.Envelope) error {
	if p.err != nil {
		return p.err
	}
	if len(batch) == 0 {
		return nil
	}
	chunks, err := p.prepare(batch)
	if err != nil {
		return err
	}
	if err := p.run(ctx, chunks); err != nil {
		return fmt.Errorf("redis projection %s: apply %d events: %w", p.keys.Base(), len(batch), err)
	}
	return nil
}

// chunk is the arguments of one script call.
type chunk struct {
	keys []string
	args []any
}

// prepare validates every event of batch (or returns the *PoisonError of
// the first invalid one) and builds the script arguments.
func (p *Projection) prepare(batch []projections.Envelope) ([]chunk, error) {
	size := p.cfg.ChunkEvents
	chunks := make([]chunk, 0, (len(batch)+size-1)/size)
	var c chunk
	for i, env := range batch {
		if env.Offset < 0 {
			return nil, fmt.Errorf("redis projection: event %d of the batch has a negative offset %d", i, env.Offset)
		}
		ev, reason := normalize(env.Event)
		if reason != "" {
			return nil, &PoisonError{Index: i, Envelope: env, Reason: reason}
		}
		if c.keys == nil {
			n := min(size, len(batch)-i)
			c = chunk{keys: make([]string, 0, n*keysPerEvent), args: make([]any, 0, n*argsPerEvent)}
		}
		meta := ev.Metadata()
		ns, key := meta.Namespace, ev.Subject().Key()
		c.keys = append(c.keys, p.keys.Record(ns, key), p.keys.Counts(ns), p.keys.Positions(env.Source))
		var (
			op, typ, imp, norm string
			payload            []byte
		)
		switch e := ev.(type) {
		case domain.MemoryStored:
			op, typ, payload = opStore, string(e.Type), payloadObject(e.Payload)
			if e.Importance != nil {
				imp = formatFloat(*e.Importance)
			}
			norm = formatFloat(e.ImportanceNorm)
		case domain.MemoryDeleted:
			op = opDelete
		case domain.MemoryImportanceSet:
			op, imp, norm = opImportance, formatFloat(e.Importance), formatFloat(e.ImportanceNorm)
		default: // links
			op = opPosition
		}
		c.args = append(c.args,
			op, strconv.FormatInt(int64(env.Partition), 10), strconv.FormatInt(env.Offset, 10),
			typ, payload, imp, norm, formatTime(meta.OccurredAt), meta.EventID, ns, key)
		if len(c.keys) == size*keysPerEvent {
			chunks = append(chunks, c)
			c = chunk{}
		}
	}
	if c.keys != nil {
		chunks = append(chunks, c)
	}
	return chunks, nil
}

// run sends every chunk in one MULTI/EXEC. A script unknown to the server
// (restarted, flushed, failed over) fails every chunk alike without
// effect; it is then loaded and the transaction sent once more.
func (p *Projection) run(ctx context.Context, chunks []chunk) error {
	for attempt := 0; ; attempt++ {
		cmds, err := p.client.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			for _, c := range chunks {
				pipe.EvalSha(ctx, p.script.Hash(), c.keys, c.args...)
			}
			return nil
		})
		if err == nil {
			return nil
		}
		if attempt > 0 || !noScript(err, cmds) {
			return err
		}
		if err := p.script.Load(ctx, p.client).Err(); err != nil {
			return fmt.Errorf("load apply script: %w", err)
		}
	}
}

func noScript(err error, cmds []goredis.Cmder) bool {
	if goredis.HasErrorPrefix(err, "NOSCRIPT") {
		return true
	}
	for _, c := range cmds {
		if goredis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			return true
		}
	}
	return false
}

// formatFloat is the stored form of a number: the shortest decimal that
// parses back to the same float64.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// Positions returns the applied offset of every partition of source.
func (p *Projection) Positions(ctx context.Context, source string) (map[int32]int64, error) {
	if p.err != nil {
		return nil, p.err
	}
	return p.reader.Positions(ctx, source)
}

// Record returns the memory at coord in namespace ns of the generation
// written to; ok is false when there is none.
func (p *Projection) Record(ctx context.Context, ns string, coord domain.Coordinate) (m domain.Memory, ok bool, err error) {
	if p.err != nil {
		return domain.Memory{}, false, p.err
	}
	return p.reader.Record(ctx, ns, coord)
}

// Records returns the memories at the coordinate keys of namespace ns
// (missing keys are absent), in one round trip.
func (p *Projection) Records(ctx context.Context, ns string, coordKeys []string) (map[string]domain.Memory, error) {
	if p.err != nil {
		return nil, p.err
	}
	return p.reader.Records(ctx, ns, coordKeys)
}

// Counts returns the counters of namespace ns (zero for an unknown one).
func (p *Projection) Counts(ctx context.Context, ns string) (total, episodic, semantic int64, err error) {
	if p.err != nil {
		return 0, 0, 0, p.err
	}
	return p.reader.Counts(ctx, ns)
}

// Promote makes the generation written to the serving one: it points
// "<prefix>:current" at it.
func (p *Projection) Promote(ctx context.Context) error {
	if p.err != nil {
		return p.err
	}
	if err := p.client.Set(ctx, PointerKey(p.cfg.Prefix), p.cfg.Generation, 0).Err(); err != nil {
		return fmt.Errorf("redis promote %s to %s: %w", PointerKey(p.cfg.Prefix), p.cfg.Generation, err)
	}
	return nil
}
