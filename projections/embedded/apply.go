package embedded

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/internal/vectorindex"
	"github.com/somafractalmemory/soma/projections"
)

// Apply applies batch in one transaction (see projections.Projection for
// the contract). Events at or below the applied position of their (source,
// partition) are skipped, and so is an event whose event_id was already
// applied at another position. Every applied event is also appended to
// event_log (the history), with its log position.
//
// The fold rules are those of every read model (projectiontest's
// reference, and the Postgres read model's tombstones): a store creates
// or replaces the memory (versions keep counting); a delete removes the
// memory, its vector, every edge from its coordinate and every edge to it
// created at or before the delete, whether or not a memory existed, and
// records the delete's time; a link from a coordinate without memory, or
// to one deleted at or after the link's time, is ignored; a re-link keeps
// the edge's place and takes the new type, weight and time; an importance
// change applies to existing memories only. Comparing event times for a
// link and a delete of its target (which travel in different partitions)
// makes every interleaving of partitions reach the same graph.
//
// An invalid event is reported as a *PoisonError (wrapping
// projections.ErrPoison) and nothing is applied; other errors are
// transient.
func (s *Store) Apply(ctx context.Context, batch []projections.Envelope) error {
	if len(batch) == 0 {
		return nil
	}
	items, err := prepareItems(batch)
	if err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.write(ctx, items, false); err != nil {
		var poison *PoisonError
		if errors.As(err, &poison) {
			return err
		}
		return fmt.Errorf("embedded projection: apply %d events: %w", len(batch), err)
	}
	return nil
}

// Append is the event sink of direct-write mode (commands.EventSink): in
// one transaction it appends events to event_log, which is then the log
// (source consistency.EventLogSource, partition 0, offset = seq), applies
// them like Apply, and advances the event_log checkpoint. It returns once
// the transaction is committed and the vector index updated, with the
// token of the last position. The positions of one Append are
// consecutive: of n events, the i-th is at last-(n-1-i) (an event whose
// event_id is already in the log takes its position but is not applied
// again).
//
// Errors: a *PoisonError for an invalid event (nothing appended); an
// error wrapping commands.ErrUnavailable when SQLite is busy or cannot
// write (I/O, disk full) or the encoder failed transiently; the context's
// error when it ended first.
func (s *Store) Append(ctx context.Context, events []domain.Event) (consistency.Token, error) {
	if len(events) == 0 {
		return consistency.Token{}, nil
	}
	batch := make([]projections.Envelope, len(events))
	for i, e := range events {
		batch[i] = projections.Envelope{Event: e, Source: consistency.EventLogSource}
	}
	items, err := prepareItems(batch)
	if err != nil {
		return consistency.Token{}, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return consistency.Token{}, ErrClosed
	}
	for i := range items {
		items[i].off = s.nextSeq + int64(i)
	}
	if err := s.write(ctx, items, true); err != nil {
		var poison *PoisonError
		if errors.As(err, &poison) {
			return consistency.Token{}, err
		}
		return consistency.Token{}, fmt.Errorf("embedded store: append %d events: %w", len(events), unavailable(err))
	}
	tok := consistency.Token{Source: consistency.EventLogSource}
	tok.Add(0, items[len(items)-1].off)
	return tok, nil
}

// prepareItems validates every event of batch, or returns the
// *PoisonError of the first invalid one.
func prepareItems(batch []projections.Envelope) ([]item, error) {
	items := make([]item, len(batch))
	for i, env := range batch {
		if env.Offset < 0 {
			return nil, fmt.Errorf("embedded projection: event %d of the batch has a negative offset %d", i, env.Offset)
		}
		ev, reason := normalize(env.Event)
		var fields vectorindex.Fields
		if st, ok := ev.(domain.MemoryStored); ok && reason == "" {
			fields, reason = payloadFields(st.Payload)
		}
		if reason != "" {
			return nil, &PoisonError{Index: i, Envelope: env, Reason: reason}
		}
		meta := ev.Metadata()
		items[i] = item{
			idx:    i,
			ev:     ev,
			id:     uuid.MustParse(meta.EventID).String(), // validated by normalize
			ns:     meta.Namespace,
			key:    ev.Subject().Key(),
			src:    env.Source,
			part:   env.Partition,
			off:    env.Offset,
			fields: fields,
		}
	}
	return items, nil
}

type position struct {
	src  string
	part int32
}

type recKey struct{ ns, key string }

// recState is a record as the batch sees it.
type recState struct {
	exists  bool
	inDB    bool // a row existed before the batch
	typ     domain.MemoryType
	version int64
	payload []byte
	// row is the whole row when the batch wrote the record (written at
	// flushRecords); nil while the stored row is current.
	row []any
}

// Columns of a records row (recordsSQL order) that an importance change
// rewrites in row.
const (
	colPayload        = 5
	colImportance     = 6
	colImportanceNorm = 7
	colUpdatedAt      = 10
	colVersion        = 11
	colLastEventID    = 12
)

// vecState is a memory's vector row as the batch leaves it.
type vecState struct {
	present bool
	model   string
	typ     domain.MemoryType
	norm    float64
	fields  vectorindex.Fields
	vec     []float32
	dirty   bool
}

type countDelta struct{ total, episodic, semantic int64 }

func (d *countDelta) add(t domain.MemoryType, n int64) {
	d.total += n
	if t == domain.Semantic {
		d.semantic += n
	} else {
		d.episodic += n
	}
}

// batchTx is the state of one write transaction.
type batchTx struct {
	ctx  context.Context
	tx   *sql.Tx
	st   statements // bound to tx
	recs map[recKey]*recState
	vecs map[recKey]*vecState
	// tombs are the last delete times of the memories the batch deletes
	// or links to (stored ones, then the batch's); absent: never deleted.
	tombs      map[recKey]time.Time
	tombLoaded map[recKey]bool
	counts     map[string]*countDelta
}

// write applies items (validated, positions set) in one transaction and
// then updates the vector index and the positions. appended says the
// items are new log entries (Append): their offsets are their seqs. The
// caller holds wmu.
func (s *Store) write(ctx context.Context, items []item, appended bool) error {
	// Drop what was applied before; advance every partition to its last
	// offset in the batch.
	next := map[position]int64{}
	live := make([]item, 0, len(items))
	for _, it := range items {
		pos := position{it.src, it.part}
		cur, ok := next[pos]
		if !ok {
			if c, applied := s.pos[it.src][it.part]; applied {
				cur, ok = c, true
			}
		}
		if ok && it.off <= cur {
			continue
		}
		next[pos] = it.off
		live = append(live, it)
	}
	if len(next) == 0 {
		return nil
	}

	model, dim, err := s.checkVectors(live)
	if err != nil {
		return err
	}
	bodies := make([][]byte, len(live))
	for i, it := range live {
		b, err := s.cfg.Encoder.EncodeBody(it.ev)
		if err != nil {
			if errors.Is(err, projections.ErrPoison) {
				return &PoisonError{Index: it.idx, Envelope: it.envelope(), Reason: "cannot encode: " + err.Error(), Err: err}
			}
			return fmt.Errorf("%w: encode %s %s: %w", commands.ErrUnavailable, it.ev.EventName(), it.id, err)
		}
		bodies[i] = b
	}

	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback()
		}
	}()
	b := &batchTx{
		ctx:        ctx,
		tx:         tx,
		st:         s.st.in(ctx, tx),
		recs:       map[recKey]*recState{},
		vecs:       map[recKey]*vecState{},
		tombs:      map[recKey]time.Time{},
		tombLoaded: map[recKey]bool{},
		counts:     map[string]*countDelta{},
	}
	known, err := b.knownEvents(live)
	if err != nil {
		return err
	}
	if err := b.loadRecords(live); err != nil {
		return err
	}
	if err := b.loadTombstones(live); err != nil {
		return err
	}
	events := &rowWriter{ctx: ctx, tx: tx, full: b.st.insertEvent, head: insertEventsSQL, cols: eventColumns}
	nextSeq := s.nextSeq
	for i, it := range live {
		if known[it.id] {
			continue // applied before at another position, or twice in this batch
		}
		known[it.id] = true
		seq := nextSeq
		if (appended || it.src == consistency.EventLogSource) && it.off >= nextSeq {
			seq = it.off // a log position is its own seq when it can be
		}
		nextSeq = seq + 1
		meta := it.ev.Metadata()
		if err := events.add(seq, it.src, it.part, it.off, it.id, it.ev.EventName(),
			it.ns, it.key, formatTime(meta.OccurredAt), bodies[i]); err != nil {
			return err
		}
		if err := b.apply(it); err != nil {
			return fmt.Errorf("%s %s: %w", it.ev.EventName(), it.id, err)
		}
	}
	if appended {
		// Every appended event holds its position, applied or not.
		nextSeq = max(nextSeq, items[len(items)-1].off+1)
	}
	if err := events.flush(); err != nil {
		return err
	}
	if err := b.flushRecords(); err != nil {
		return err
	}
	deletes, upserts, err := b.flushVectors(model, dim)
	if err != nil {
		return err
	}
	for _, ns := range slices.Sorted(maps.Keys(b.counts)) {
		d := b.counts[ns]
		if *d == (countDelta{}) {
			continue
		}
		if _, err := b.st.addCounts.ExecContext(ctx, ns, d.total, d.episodic, d.semantic); err != nil {
			return err
		}
	}
	for pos, off := range next {
		if _, err := b.st.putCheckpoint.ExecContext(ctx, pos.src, pos.part, off); err != nil {
			return err
		}
	}
	oldModel, oldDim := s.model, s.dim
	if model != oldModel || dim != oldDim {
		if _, err := b.st.putMeta.ExecContext(ctx, metaIndexModel, model); err != nil {
			return err
		}
		if _, err := b.st.putMeta.ExecContext(ctx, metaIndexDim, strconv.Itoa(dim)); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		if !s.committedAnyway(next) {
			return err
		}
	}
	committed = true
	var written int64
	for _, body := range bodies {
		written += int64(len(body)) + 256 // the row and its index entries, roughly
	}
	for _, u := range upserts {
		written += int64(4 * len(u.Vector))
	}
	s.wrote(written)

	// Visible to readers: first the index, then the positions.
	s.nextSeq = max(s.nextSeq, nextSeq)
	s.imu.Lock()
	s.model, s.dim = model, dim
	if s.idx == nil && model != "" && dim > 0 {
		s.idx, err = vectorindex.NewFlat(model, dim)
	}
	idx := s.idx
	s.imu.Unlock()
	if err == nil && idx != nil {
		err = idx.Update(deletes, upserts)
	}
	if err != nil {
		// Cannot happen for validated events; the log and tables are right,
		// only a restart would rebuild the index.
		err = fmt.Errorf("vector index update after commit (restart to rebuild it): %w", err)
	}
	pos := make(map[string]map[int32]int64, len(s.pos))
	for src, parts := range s.pos {
		pos[src] = maps.Clone(parts)
	}
	for p, off := range next {
		if pos[p.src] == nil {
			pos[p.src] = map[int32]int64{}
		}
		pos[p.src][p.part] = off
	}
	s.pmu.Lock()
	s.pos = pos
	s.pmu.Unlock()
	select {
	case s.advanced <- struct{}{}:
	default:
	}
	return err
}

// committedAnyway is asked after a failed COMMIT: it reads the
// checkpoints back and reports whether the transaction did commit.
func (s *Store) committedAnyway(next map[position]int64) bool {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.BusyTimeout+time.Second)
	defer cancel()
	for pos, off := range next {
		var got int64
		err := s.wdb.QueryRowContext(ctx, `SELECT "offset" FROM checkpoints WHERE source = ? AND partition = ?`, pos.src, pos.part).Scan(&got)
		if err != nil || got != off {
			return false
		}
	}
	return true
}

// checkVectors decides the model and dimension of the index after the
// batch (the first vector ever stored names them when no model is
// configured) and refuses vectors of the index's model with another
// dimension. The caller holds wmu.
func (s *Store) checkVectors(live []item) (model string, dim int, err error) {
	model, dim = s.model, s.dim
	if model == "" {
		model = s.cfg.EmbeddingModel
	}
	for _, it := range live {
		st, ok := it.ev.(domain.MemoryStored)
		if !ok || len(st.Embedding) == 0 {
			continue
		}
		if model == "" {
			model = st.EmbeddingModel
		}
		if st.EmbeddingModel != model {
			continue // kept, but not searchable: never mixed into the index
		}
		if dim == 0 {
			dim = len(st.Embedding)
		}
		if len(st.Embedding) != dim {
			return "", 0, &PoisonError{Index: it.idx, Envelope: it.envelope(),
				Reason: fmt.Sprintf("embedding of model %q has %d dimensions, the index %d", model, len(st.Embedding), dim)}
		}
	}
	return model, dim, nil
}

func (b *batchTx) count(ns string) *countDelta {
	d, ok := b.counts[ns]
	if !ok {
		d = &countDelta{}
		b.counts[ns] = d
	}
	return d
}

// knownEvents returns the event ids of items already in event_log.
func (b *batchTx) knownEvents(items []item) (map[string]bool, error) {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.id
	}
	known := map[string]bool{}
	rows, err := b.tx.QueryContext(b.ctx, `SELECT event_id FROM event_log WHERE event_id IN (SELECT value FROM json_each(?))`, jsonKeys(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		known[id] = true
	}
	return known, rows.Err()
}

// loadRecords reads, in one query per namespace, the records the items
// touch, so that rec rarely has to.
func (b *batchTx) loadRecords(items []item) error {
	byNS := map[string][]string{}
	for _, it := range items {
		if _, ok := it.ev.(domain.MemoryUnlinked); ok {
			continue
		}
		k := recKey{it.ns, it.key}
		if _, ok := b.recs[k]; ok {
			continue
		}
		b.recs[k] = &recState{} // absent unless the query finds it
		byNS[it.ns] = append(byNS[it.ns], it.key)
	}
	for ns, keys := range byNS {
		rows, err := b.tx.QueryContext(b.ctx, `SELECT coord_key, memory_type, version, payload FROM records
WHERE namespace = ? AND coord_key IN (SELECT value FROM json_each(?))`, ns, jsonKeys(keys))
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				key, typ string
				r        = &recState{exists: true, inDB: true}
			)
			if err := rows.Scan(&key, &typ, &r.version, &r.payload); err != nil {
				_ = rows.Close() // the scan error is the one to report
				return err
			}
			r.typ = domain.MemoryType(typ)
			b.recs[recKey{ns, key}] = r
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
	}
	return nil
}

// loadTombstones reads the stored delete times of the memories the items
// delete or link to, one query per namespace.
func (b *batchTx) loadTombstones(items []item) error {
	byNS := map[string][]string{}
	for _, it := range items {
		switch e := it.ev.(type) {
		case domain.MemoriesLinked:
			byNS[it.ns] = append(byNS[it.ns], e.To.Key())
		case domain.MemoryDeleted:
			byNS[it.ns] = append(byNS[it.ns], it.key)
		}
	}
	for ns, keys := range byNS {
		for _, k := range keys {
			b.tombLoaded[recKey{ns, k}] = true
		}
		rows, err := b.tx.QueryContext(b.ctx, `SELECT coord_key, deleted_at FROM tombstones
WHERE namespace = ? AND coord_key IN (SELECT value FROM json_each(?))`, ns, jsonKeys(keys))
		if err != nil {
			return err
		}
		for rows.Next() {
			var key, at string
			if err := rows.Scan(&key, &at); err != nil {
				_ = rows.Close() // the scan error is the one to report
				return err
			}
			t, err := parseTime(at)
			if err != nil {
				_ = rows.Close() // the parse error is the one to report
				return fmt.Errorf("stored tombstone of %s/%s: %w", ns, key, err)
			}
			b.tombs[recKey{ns, key}] = t
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
	}
	return nil
}

// tomb returns the last delete time of k (deleted false when never).
func (b *batchTx) tomb(k recKey) (time.Time, bool, error) {
	if t, ok := b.tombs[k]; ok {
		return t, true, nil
	}
	if b.tombLoaded[k] {
		return time.Time{}, false, nil
	}
	var at string
	err := b.tx.QueryRowContext(b.ctx, `SELECT deleted_at FROM tombstones WHERE namespace = ? AND coord_key = ?`, k.ns, k.key).Scan(&at)
	b.tombLoaded[k] = true
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	t, err := parseTime(at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("stored tombstone of %s/%s: %w", k.ns, k.key, err)
	}
	b.tombs[k] = t
	return t, true, nil
}

// rec returns the record at k as the batch has left it so far.
func (b *batchTx) rec(k recKey) (*recState, error) {
	if r, ok := b.recs[k]; ok {
		return r, nil
	}
	r := &recState{}
	var typ string
	switch err := b.st.getRecord.QueryRowContext(b.ctx, k.ns, k.key).Scan(&typ, &r.version, &r.payload); {
	case err == nil:
		r.exists, r.inDB, r.typ = true, true, domain.MemoryType(typ)
	case !errors.Is(err, sql.ErrNoRows):
		return nil, err
	}
	b.recs[k] = r
	return r, nil
}

// vec returns the vector row at k as the batch has left it so far.
func (b *batchTx) vec(k recKey) (*vecState, error) {
	if v, ok := b.vecs[k]; ok {
		return v, nil
	}
	v := &vecState{}
	var (
		typ          string
		fields, blob []byte
	)
	switch err := b.st.getVector.QueryRowContext(b.ctx, k.ns, k.key).Scan(&v.model, &typ, &fields, &blob); {
	case err == nil:
		v.present, v.typ = true, domain.MemoryType(typ)
		var ferr error
		if v.fields, ferr = vectorindex.UnmarshalFields(fields); ferr != nil {
			return nil, fmt.Errorf("stored fields of %s/%s: %w", k.ns, k.key, ferr)
		}
		v.vec = decodeVector(blob, nil)
	case !errors.Is(err, sql.ErrNoRows):
		return nil, err
	}
	b.vecs[k] = v
	return v, nil
}

// apply applies one event (validated, not applied before).
func (b *batchTx) apply(it item) error {
	ctx, st := b.ctx, b.st
	meta := it.ev.Metadata()
	k := recKey{it.ns, it.key}
	switch e := it.ev.(type) {
	case domain.MemoryStored:
		r, err := b.rec(k)
		if err != nil {
			return err
		}
		version := int64(1)
		if r.exists {
			b.count(k.ns).add(r.typ, -1)
			version = r.version + 1
		}
		b.count(k.ns).add(e.Type, 1)
		var c0 any
		if e.Coordinate.Dims() > 0 {
			c0 = e.Coordinate.At(0)
		}
		var imp any
		if e.Importance != nil {
			imp = *e.Importance
		}
		at := formatTime(meta.OccurredAt)
		r.exists, r.typ, r.version, r.payload = true, e.Type, version, e.Payload
		r.row = []any{k.ns, k.key, encodeCoordinate(e.Coordinate), c0, string(e.Type),
			string(e.Payload), imp, e.ImportanceNorm, e.EmbeddingModel, at, at, version, it.id}
		b.vecs[k] = &vecState{
			present: len(e.Embedding) > 0,
			model:   e.EmbeddingModel,
			typ:     e.Type,
			norm:    e.ImportanceNorm,
			fields:  it.fields,
			vec:     e.Embedding,
			dirty:   true,
		}
	case domain.MemoryDeleted:
		r, err := b.rec(k)
		if err != nil {
			return err
		}
		if r.exists {
			b.count(k.ns).add(r.typ, -1)
			r.exists, r.row, r.payload = false, nil, nil
		}
		b.vecs[k] = &vecState{dirty: true}
		// Edges touching the coordinate go even when no memory is there:
		// incoming edges may point at coordinates that never held one.
		// Outgoing edges share the memory's partition, so log order
		// decides; incoming ones come from other partitions, so only those
		// created at or before the delete go, and the tombstone turns away
		// links of earlier times that arrive later.
		td := meta.OccurredAt
		if prev, ok := b.tombs[k]; !ok || td.After(prev) {
			b.tombs[k] = td
		}
		at := formatTime(td)
		if _, err := st.putTombstone.ExecContext(ctx, k.ns, k.key, at); err != nil {
			return err
		}
		if _, err := st.wipeLinksFrom.ExecContext(ctx, k.ns, k.key); err != nil {
			return err
		}
		if _, err := st.wipeLinksTo.ExecContext(ctx, k.ns, k.key, at); err != nil {
			return err
		}
	case domain.MemoriesLinked:
		// The write API refuses a link from a coordinate without memory;
		// an event that still says so (a race with a delete) changes
		// nothing.
		r, err := b.rec(k)
		if err != nil || !r.exists {
			return err
		}
		to := recKey{k.ns, e.To.Key()}
		if td, deleted, err := b.tomb(to); err != nil {
			return err
		} else if deleted && to != k && !meta.OccurredAt.After(td) {
			return nil // the target was deleted at or after the link's time
		}
		if _, err := st.putLink.ExecContext(ctx, k.ns, k.key, e.To.Key(), e.LinkType, e.Weight, formatTime(meta.OccurredAt)); err != nil {
			return err
		}
	case domain.MemoryUnlinked:
		if _, err := st.deleteLink.ExecContext(ctx, k.ns, k.key, e.To.Key()); err != nil {
			return err
		}
	case domain.MemoryImportanceSet:
		r, err := b.rec(k)
		if err != nil || !r.exists {
			return err
		}
		r.version++
		r.payload = withImportance(r.payload, e.Importance)
		at := formatTime(meta.OccurredAt)
		if r.row != nil {
			r.row[colPayload], r.row[colImportance], r.row[colImportanceNorm] = string(r.payload), e.Importance, e.ImportanceNorm
			r.row[colUpdatedAt], r.row[colVersion], r.row[colLastEventID] = at, r.version, it.id
		} else if _, err := st.updateImportance.ExecContext(ctx, string(r.payload), e.Importance, e.ImportanceNorm, r.version,
			at, it.id, k.ns, k.key); err != nil {
			return err
		}
		v, err := b.vec(k)
		if err != nil {
			return err
		}
		if v.present {
			v.norm = e.ImportanceNorm
			v.fields = v.fields.With(domain.PayloadKeyImportance, vectorindex.Value{Kind: vectorindex.KindNumber, Num: e.Importance})
			v.dirty = true
		}
	}
	return nil
}

// flushRecords writes the records the batch rewrote and deletes those it
// removed.
func (b *batchTx) flushRecords() error {
	keys := slices.SortedFunc(maps.Keys(b.recs), func(x, y recKey) int {
		return cmp.Or(cmp.Compare(x.ns, y.ns), cmp.Compare(x.key, y.key))
	})
	rows := &rowWriter{ctx: b.ctx, tx: b.tx, full: b.st.putRecord, head: putRecordsSQL, cols: recordColumnCount}
	for _, k := range keys {
		switch r := b.recs[k]; {
		case r.exists && r.row != nil:
			if err := rows.add(r.row...); err != nil {
				return err
			}
		case !r.exists && r.inDB:
			if _, err := b.st.deleteRecord.ExecContext(b.ctx, k.ns, k.key); err != nil {
				return err
			}
		}
	}
	return rows.flush()
}

// flushVectors writes the vector rows the batch changed and returns the
// matching index changes: rows of the index's model are upserted,
// anything else at a changed key is deleted from the index.
func (b *batchTx) flushVectors(model string, dim int) ([]vectorindex.ID, []vectorindex.Entry, error) {
	keys := slices.SortedFunc(maps.Keys(b.vecs), func(x, y recKey) int {
		return cmp.Or(cmp.Compare(x.ns, y.ns), cmp.Compare(x.key, y.key))
	})
	var (
		deletes []vectorindex.ID
		upserts []vectorindex.Entry
		rows    = &rowWriter{ctx: b.ctx, tx: b.tx, full: b.st.putVector, head: putVectorsSQL, cols: vectorColumns}
	)
	for _, k := range keys {
		v := b.vecs[k]
		if !v.dirty {
			continue
		}
		id := vectorindex.ID{Namespace: k.ns, Key: k.key}
		if !v.present {
			if _, err := b.st.deleteVector.ExecContext(b.ctx, k.ns, k.key); err != nil {
				return nil, nil, err
			}
			deletes = append(deletes, id)
			continue
		}
		if err := rows.add(k.ns, k.key, v.model, string(v.typ), v.norm,
			vectorindex.MarshalFields(v.fields), encodeVector(nil, v.vec)); err != nil {
			return nil, nil, err
		}
		if v.model == model && len(v.vec) == dim {
			upserts = append(upserts, vectorindex.Entry{ID: id, Type: string(v.typ), ImportanceNorm: v.norm, Fields: v.fields, Vector: v.vec})
		} else {
			deletes = append(deletes, id)
		}
	}
	if err := rows.flush(); err != nil {
		return nil, nil, err
	}
	return deletes, upserts, nil
}

// in binds the statements to tx.
func (st statements) in(ctx context.Context, tx *sql.Tx) statements {
	return statements{
		insertEvent:      tx.StmtContext(ctx, st.insertEvent),
		getRecord:        tx.StmtContext(ctx, st.getRecord),
		putRecord:        tx.StmtContext(ctx, st.putRecord),
		deleteRecord:     tx.StmtContext(ctx, st.deleteRecord),
		updateImportance: tx.StmtContext(ctx, st.updateImportance),
		getVector:        tx.StmtContext(ctx, st.getVector),
		putVector:        tx.StmtContext(ctx, st.putVector),
		deleteVector:     tx.StmtContext(ctx, st.deleteVector),
		wipeLinksFrom:    tx.StmtContext(ctx, st.wipeLinksFrom),
		wipeLinksTo:      tx.StmtContext(ctx, st.wipeLinksTo),
		putTombstone:     tx.StmtContext(ctx, st.putTombstone),
		putLink:          tx.StmtContext(ctx, st.putLink),
		deleteLink:       tx.StmtContext(ctx, st.deleteLink),
		addCounts:        tx.StmtContext(ctx, st.addCounts),
		putCheckpoint:    tx.StmtContext(ctx, st.putCheckpoint),
		putMeta:          tx.StmtContext(ctx, st.putMeta),
	}
}

func (it item) envelope() projections.Envelope {
	return projections.Envelope{Event: it.ev, Source: it.src, Partition: it.part, Offset: it.off}
}

// withImportance returns payload with its "importance" key set to imp
// (the payload change of domain.Memory.ApplyImportance). payload is a
// stored JSON object.
func withImportance(payload []byte, imp float64) []byte {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(payload, &obj); err != nil || obj == nil {
		obj = map[string]json.RawMessage{}
	}
	obj[domain.PayloadKeyImportance] = json.RawMessage(strconv.FormatFloat(imp, 'g', -1, 64))
	out, err := json.Marshal(obj)
	if err != nil {
		return payload
	}
	return out
}

// Stored encodings.

// timeLayout is RFC 3339 with nine fractional digits: in UTC, text order
// is time order (tombstones are compared in SQL).
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

// encodeCoordinate is the coordinate as little-endian float64s.
func encodeCoordinate(c domain.Coordinate) []byte {
	b := make([]byte, 0, 8*c.Dims())
	for i := range c.Dims() {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(c.At(i)))
	}
	return b
}

func decodeCoordinate(b []byte) (domain.Coordinate, error) {
	if len(b)%8 != 0 {
		return domain.Coordinate{}, fmt.Errorf("coordinate blob of %d bytes", len(b))
	}
	vals := make([]float64, len(b)/8)
	for i := range vals {
		vals[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return domain.NewCoordinate(vals)
}

// encodeVector appends v as little-endian float32s.
func encodeVector(dst []byte, v []float32) []byte {
	dst = slices.Grow(dst, 4*len(v))
	for _, x := range v {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(x))
	}
	return dst
}

// decodeVector decodes an encodeVector blob into dst (reused when large
// enough).
func decodeVector(b []byte, dst []float32) []float32 {
	n := len(b) / 4
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return dst
}
