// Package postgres is the Postgres read model: records, the link graph,
// per-namespace counts, the history of applied events, and the applied
// position of every log partition, all in one schema (see Migrate).
//
// Apply writes a whole batch in one transaction with a few set-based
// statements: the events are first folded, in log order, into their net
// effect (fold.go), which is exactly what applying them one by one would
// have produced.
//
// Concurrency: Apply may be called concurrently (for example by several
// consumers of one group during a rebalance). Calls touching the same
// partition serialise on its checkpoint row. Correctness relies on every
// event of a memory travelling through one partition (the partition key is
// namespace + subject coordinate); Postgres deadlocks between calls of
// different partitions (an edge A→B written from A's partition while B's
// partition deletes B) surface as transient errors and are retried.
package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/projections"
)

// Projection applies events to the Postgres read model of one schema. It
// is safe for concurrent use.
type Projection struct {
	pool *pgxpool.Pool
	cfg  Config
	err  error // configuration error, returned by every call
	q    statements
	// appendLock serialises Append calls of one schema (advisory lock key).
	appendLock int64
}

var _ projections.Projection = (*Projection)(nil)

// New returns the projection of cfg.Schema, which must have been migrated
// (Migrate). cfg should be valid (Config.Validate); if it is not, every
// method returns the validation error.
func New(pool *pgxpool.Pool, cfg Config) *Projection {
	cfg = cfg.withDefaults()
	p := &Projection{pool: pool, cfg: cfg, err: cfg.Validate()}
	if pool == nil {
		p.err = errors.Join(p.err, fmt.Errorf("%w: nil pool", ErrInvalidConfig))
	}
	if p.err == nil {
		p.q = newStatements(cfg.Schema)
		p.appendLock = advisoryKey("soma.event_log." + cfg.Schema)
	}
	return p
}

// Name is projections.Postgres.
func (p *Projection) Name() string { return projections.Postgres }

// Schema is the Postgres schema the projection writes to.
func (p *Projection) Schema() string { return p.cfg.Schema }

// Apply applies batch in one transaction (see projections.Projection for
// the contract). Events at or below the applied position of their
// partition are skipped, and so is an event whose event_id was already
// applied at another position. Committed positions are announced on
// NotifyChannel with the schema as payload (the notification is queued in
// the transaction, so listeners hear it only once the rows are visible).
//
// An event that fails validation, or that Postgres refuses as data, is
// reported as a *projections.PoisonError (wrapping projections.ErrPoison) and nothing
// is applied. Every other error (connection, deadlock, cancellation) is
// returned as is and is transient.
func (p *Projection) Apply(ctx context.Context, batch []projections.Envelope) error {
	if p.err != nil {
		return p.err
	}
	if len(batch) == 0 {
		return nil
	}
	items, err := prepare(batch)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		return p.applyItems(ctx, tx, items, false)
	})
	if err != nil && isDataError(err) {
		return p.diagnose(ctx, items, err, false)
	}
	if err != nil {
		return fmt.Errorf("postgres projection %s: apply %d events: %w", p.cfg.Schema, len(batch), err)
	}
	return nil
}

// Append is the write path of direct-write mode (EVENTING_ENABLED=false):
// in one transaction it appends events to event_log, which is then the
// log, and applies them to the read model. The returned envelopes carry
// their log positions (Source consistency.EventLogSource, partition 0,
// offset = event_log.seq) for the consistency token and for the other
// read models. Appends to one schema are serialised, so positions are
// committed in increasing order.
func (p *Projection) Append(ctx context.Context, events []domain.Event) ([]projections.Envelope, error) {
	if p.err != nil {
		return nil, p.err
	}
	if len(events) == 0 {
		return nil, nil
	}
	batch := make([]projections.Envelope, len(events))
	for i, e := range events {
		batch[i] = projections.Envelope{Event: e, Source: consistency.EventLogSource}
	}
	items, err := prepare(batch)
	if err != nil {
		return nil, err
	}
	err = pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", p.appendLock); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, p.q.nextLogSeqs, len(items))
		if err != nil {
			return err
		}
		seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		slices.Sort(seqs)
		for i := range items {
			items[i].off = seqs[i]
			batch[i].Offset = seqs[i]
		}
		return p.applyItems(ctx, tx, items, true)
	})
	if err != nil && isDataError(err) {
		return nil, p.diagnose(ctx, items, err, true)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres projection %s: append %d events: %w", p.cfg.Schema, len(events), err)
	}
	return batch, nil
}

// Positions returns the applied offset of every partition of source.
func (p *Projection) Positions(ctx context.Context, source string) (map[int32]int64, error) {
	if p.err != nil {
		return nil, p.err
	}
	rows, err := p.pool.Query(ctx, p.q.positions, source)
	if err != nil {
		return nil, fmt.Errorf("postgres positions of %s: %w", source, err)
	}
	out := map[int32]int64{}
	var (
		part int32
		off  int64
	)
	_, err = pgx.ForEachRow(rows, []any{&part, &off}, func() error {
		out[part] = off
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres positions of %s: %w", source, err)
	}
	return out, nil
}

// prepare validates every event of batch, or returns the *projections.PoisonError of
// the first invalid one.
func prepare(batch []projections.Envelope) ([]item, error) {
	items := make([]item, len(batch))
	for i, env := range batch {
		if env.Offset < 0 {
			return nil, fmt.Errorf("postgres projection: event %d of the batch has a negative offset %d", i, env.Offset)
		}
		ev, reason := normalize(env.Event)
		if reason != "" {
			return nil, &projections.PoisonError{Index: i, Envelope: env, Reason: reason}
		}
		meta := ev.Metadata()
		items[i] = item{
			idx:  i,
			ev:   ev,
			id:   uuid.MustParse(meta.EventID), // validated by normalize
			ns:   meta.Namespace,
			key:  ev.Subject().Key(),
			src:  env.Source,
			part: env.Partition,
			off:  env.Offset,
		}
	}
	return items, nil
}

type position struct {
	src  string
	part int32
}

// applyItems applies items inside tx: lock and read the checkpoints, drop
// what was already applied, fold, write. appended says that event_log
// rows take their seq from the offsets (already drawn from the sequence).
func (p *Projection) applyItems(ctx context.Context, tx pgx.Tx, items []item, appended bool) error {
	// Partitions of the batch, in a stable order (lock order).
	var parts []position
	seen := map[position]bool{}
	for _, it := range items {
		pos := position{it.src, it.part}
		if !seen[pos] {
			seen[pos] = true
			parts = append(parts, pos)
		}
	}
	slices.SortFunc(parts, func(a, b position) int {
		return cmp.Or(cmp.Compare(a.src, b.src), cmp.Compare(a.part, b.part))
	})
	srcs := make([]string, len(parts))
	nums := make([]int32, len(parts))
	for i, pos := range parts {
		srcs[i], nums[i] = pos.src, pos.part
	}
	ids := make([]uuid.UUID, len(items))
	var keyNS, keyKeys, tombNS, tombKeys []string
	for i, it := range items {
		ids[i] = it.id
		if _, ok := it.ev.(domain.MemoryUnlinked); !ok {
			keyNS = append(keyNS, it.ns)
			keyKeys = append(keyKeys, it.key)
		}
		switch e := it.ev.(type) {
		case domain.MemoriesLinked:
			tombNS, tombKeys = append(tombNS, it.ns), append(tombKeys, e.To.Key())
		case domain.MemoryDeleted:
			tombNS, tombKeys = append(tombNS, it.ns), append(tombKeys, it.key)
		}
	}

	// Round trip 1: lock the checkpoints, then read what the fold needs.
	// The reads run after the lock is granted, so they see everything
	// committed by the previous holder.
	checkpoints := map[position]int64{}
	known := map[uuid.UUID]bool{}
	stored := map[recKey]storedRecord{}
	tombs := map[recKey]time.Time{}
	b := &pgx.Batch{}
	if len(tombNS) > 0 {
		// A delete of X (X's partition) and a link to X (another
		// partition) may be applied by concurrent transactions; each
		// would miss the other's uncommitted write. Advisory locks on X,
		// exclusive for deletes and shared for links, taken in key order
		// before the tombstones are read, serialise exactly those pairs.
		keys, exclusive := p.graphLocks(items)
		b.Queue(p.q.lockGraphKeys, keys, exclusive)
		b.Queue(p.q.loadTombstones, tombNS, tombKeys).Query(func(rows pgx.Rows) error {
			var (
				k  recKey
				at time.Time
			)
			_, err := pgx.ForEachRow(rows, []any{&k.ns, &k.key, &at}, func() error {
				tombs[k] = at
				return nil
			})
			return err
		})
	}
	b.Queue(p.q.lockCheckpointsInsert, srcs, nums)
	b.Queue(p.q.lockCheckpointsSelect, srcs, nums).Query(func(rows pgx.Rows) error {
		var (
			pos position
			off int64
		)
		_, err := pgx.ForEachRow(rows, []any{&pos.src, &pos.part, &off}, func() error {
			checkpoints[pos] = off
			return nil
		})
		return err
	})
	b.Queue(p.q.knownEventIDs, ids).Query(func(rows pgx.Rows) error {
		var id uuid.UUID
		_, err := pgx.ForEachRow(rows, []any{&id}, func() error {
			known[id] = true
			return nil
		})
		return err
	})
	if len(keyNS) > 0 {
		b.Queue(p.q.loadRecords, keyNS, keyKeys).Query(func(rows pgx.Rows) error {
			var (
				k  recKey
				r  storedRecord
				mt string
			)
			_, err := pgx.ForEachRow(rows, []any{&k.ns, &k.key, &mt, &r.version}, func() error {
				r.memType = domain.MemoryType(mt)
				stored[k] = r
				return nil
			})
			return err
		})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}

	// Drop what was applied before; advance every partition to its last
	// offset in the batch.
	next := map[position]int64{}
	live := make([]item, 0, len(items))
	for _, it := range items {
		pos := position{it.src, it.part}
		cur, ok := next[pos]
		if !ok {
			cur = checkpoints[pos]
		}
		if it.off <= cur {
			continue
		}
		next[pos] = it.off
		if known[it.id] {
			// Applied before at another position: a duplicate.
			continue
		}
		known[it.id] = true
		it.order = len(live)
		live = append(live, it)
	}
	if len(next) == 0 {
		return nil
	}

	pl := fold(live, stored, tombs)

	// The history rows (COPY). Rows of the event_log source keep their
	// position as seq.
	var keep, plain [][]any
	for _, it := range live {
		body, err := p.cfg.Encoder.EncodeBody(it.ev)
		if err != nil {
			if errors.Is(err, projections.ErrPoison) {
				return &projections.PoisonError{Index: it.idx, Envelope: projections.Envelope{Event: it.ev, Source: it.src, Partition: it.part, Offset: it.off}, Reason: "cannot encode: " + err.Error(), Err: err}
			}
			return fmt.Errorf("encode %s %s: %w", it.ev.EventName(), it.ev.Metadata().EventID, err)
		}
		row := []any{it.src, it.part, it.off, it.id, it.ev.EventName(), it.ns, it.key, it.ev.Metadata().OccurredAt, body}
		if it.src == consistency.EventLogSource {
			keep = append(keep, append([]any{it.off}, row...))
		} else {
			plain = append(plain, row)
		}
	}
	cols := []string{"source", "partition", "offset", "event_id", "event_type", "namespace", "coord_key", "occurred_at", "body"}
	if len(plain) > 0 {
		if _, err := tx.CopyFrom(ctx, p.q.eventLogID, cols, pgx.CopyFromRows(plain)); err != nil {
			return err
		}
	}
	if len(keep) > 0 {
		if _, err := tx.CopyFrom(ctx, p.q.eventLogID, append([]string{"seq"}, cols...), pgx.CopyFromRows(keep)); err != nil {
			return err
		}
	}

	// Round trip 2: every write, the new positions and the notification.
	b = &pgx.Batch{}
	p.queueWrites(b, pl)
	if len(keep) > 0 && !appended {
		b.Queue(p.q.advanceLogSeq)
	}
	cs := make([]string, 0, len(next))
	cp := make([]int32, 0, len(next))
	co := make([]int64, 0, len(next))
	for _, pos := range parts {
		if off, ok := next[pos]; ok {
			cs, cp, co = append(cs, pos.src), append(cp, pos.part), append(co, off)
		}
	}
	b.Queue(p.q.updateCheckpoints, cs, cp, co)
	b.Queue(p.q.notify, NotifyChannel, p.cfg.Schema)
	return tx.SendBatch(ctx, b).Close()
}

// queueWrites queues the statements of a plan, in the order the plan
// requires.
func (p *Projection) queueWrites(b *pgx.Batch, pl plan) {
	if n := len(pl.recordDeletes); n > 0 {
		ns, ks := make([]string, n), make([]string, n)
		for i, k := range pl.recordDeletes {
			ns[i], ks[i] = k.ns, k.key
		}
		b.Queue(p.q.deleteRecords, ns, ks)
	}
	if n := len(pl.wipes); n > 0 {
		ns, ks, ts := make([]string, n), make([]string, n), make([]time.Time, n)
		for i, w := range pl.wipes {
			ns[i], ks[i], ts[i] = w.ns, w.key, w.at
		}
		b.Queue(p.q.wipeEdgesFrom, ns, ks)
		b.Queue(p.q.wipeEdgesTo, ns, ks, ts)
		b.Queue(p.q.upsertTombstones, ns, ks, ts)
	}
	if n := len(pl.edgeDeletes); n > 0 {
		ns, fs, ts := make([]string, n), make([]string, n), make([]string, n)
		for i, k := range pl.edgeDeletes {
			ns[i], fs[i], ts[i] = k.ns, k.from, k.to
		}
		b.Queue(p.q.deleteEdges, ns, fs, ts)
	}
	if n := len(pl.recordUpserts); n > 0 {
		var (
			ns, ks, ts, ps, ms = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
			imps               = make([]*float64, n)
			norms              = make([]float64, n)
			cs, us             = make([]time.Time, n), make([]time.Time, n)
			vs                 = make([]int64, n)
			es                 = make([]uuid.UUID, n)
		)
		for i, r := range pl.recordUpserts {
			ns[i], ks[i], ts[i], ps[i], ms[i] = r.ns, r.key, string(r.memType), string(r.payload), r.model
			imps[i], norms[i] = r.importance, r.importanceNorm
			cs[i], us[i], vs[i], es[i] = r.createdAt, r.updatedAt, r.version, r.lastEventID
		}
		b.Queue(p.q.upsertRecords, ns, ks, ts, ps, imps, norms, ms, cs, us, vs, es)
	}
	if n := len(pl.importanceUpdates); n > 0 {
		var (
			ns, ks      = make([]string, n), make([]string, n)
			imps, norms = make([]float64, n), make([]float64, n)
			vs          = make([]int64, n)
			us          = make([]time.Time, n)
			es          = make([]uuid.UUID, n)
		)
		for i, u := range pl.importanceUpdates {
			ns[i], ks[i], imps[i], norms[i], vs[i], us[i], es[i] = u.ns, u.key, u.importance, u.importanceNorm, u.version, u.updatedAt, u.lastEventID
		}
		b.Queue(p.q.updateImportance, ns, ks, imps, norms, vs, us, es)
	}
	if n := len(pl.edgeUpserts); n > 0 {
		var (
			ns, fs, ts, lts = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
			ws              = make([]float64, n)
			cs              = make([]time.Time, n)
		)
		for i, e := range pl.edgeUpserts {
			ns[i], fs[i], ts[i], lts[i], ws[i], cs[i] = e.ns, e.from, e.to, e.linkType, e.weight, e.createdAt
		}
		b.Queue(p.q.upsertEdges, ns, fs, ts, lts, ws, cs)
	}
	if n := len(pl.counts); n > 0 {
		ns := make([]string, 0, n)
		for k := range pl.counts {
			ns = append(ns, k)
		}
		slices.Sort(ns)
		ts, es, ss := make([]int64, n), make([]int64, n), make([]int64, n)
		for i, k := range ns {
			d := pl.counts[k]
			ts[i], es[i], ss[i] = d.total, d.episodic, d.semantic
		}
		b.Queue(p.q.updateCounts, ns, ts, es, ss)
	}
}

// diagnose runs after Postgres refused the data of a batch: it applies the
// events one by one, each under a savepoint, in a transaction that is
// always rolled back, to find the event at fault. If none fails alone,
// cause is returned (as a transient error).
func (p *Projection) diagnose(ctx context.Context, items []item, cause error, appended bool) error {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres projection %s: %w (and looking for the event at fault: %w)", p.cfg.Schema, cause, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // always rolled back
	for i, it := range items {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return fmt.Errorf("postgres projection %s: %w (and looking for the event at fault: %w)", p.cfg.Schema, cause, err)
		}
		if err := p.applyItems(ctx, sp, items[i:i+1], appended); err != nil {
			var poison *projections.PoisonError
			if errors.As(err, &poison) {
				return err
			}
			if isDataError(err) {
				return &projections.PoisonError{
					Index:    it.idx,
					Envelope: projections.Envelope{Event: it.ev, Source: it.src, Partition: it.part, Offset: it.off},
					Reason:   "refused by postgres: " + err.Error(),
					Err:      err,
				}
			}
			return fmt.Errorf("postgres projection %s: %w (and looking for the event at fault: %w)", p.cfg.Schema, cause, err)
		}
		if err := sp.Commit(ctx); err != nil {
			return fmt.Errorf("postgres projection %s: %w (and looking for the event at fault: %w)", p.cfg.Schema, cause, err)
		}
	}
	return fmt.Errorf("postgres projection %s: %w", p.cfg.Schema, cause)
}

// graphLocks returns the advisory lock keys of the batch's link targets
// (shared) and deleted memories (exclusive), sorted, each once with the
// strongest mode.
func (p *Projection) graphLocks(items []item) ([]int64, []bool) {
	modes := map[int64]bool{}
	lock := func(ns, key string, excl bool) {
		k := advisoryKey(p.cfg.Schema, ns, key)
		modes[k] = modes[k] || excl
	}
	for _, it := range items {
		switch e := it.ev.(type) {
		case domain.MemoriesLinked:
			lock(it.ns, e.To.Key(), false)
		case domain.MemoryDeleted:
			lock(it.ns, it.key, true)
		}
	}
	keys := make([]int64, 0, len(modes))
	for k := range modes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	excl := make([]bool, len(keys))
	for i, k := range keys {
		excl[i] = modes[k]
	}
	return keys, excl
}
