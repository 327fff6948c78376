package postgres

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/somafractalmemory/soma/domain"
)

// The fold reduces the events of one batch, in log order, to the final
// effect sequential application would have had, so that the batch is
// written with a few set-based statements. It needs, for every memory the
// batch touches, whether a record exists before the batch (with its type,
// version and creation time); everything else is decided in memory. It
// does no I/O.

type recKey struct{ ns, key string }

type edgeKey struct{ ns, from, to string }

// storedRecord is what the fold needs to know about a record already in the
// table.
type storedRecord struct {
	memType domain.MemoryType
	version int64
}

// recordRow is a full records row written by the batch.
type recordRow struct {
	ns, key        string
	memType        domain.MemoryType
	payload        []byte
	importance     *float64
	importanceNorm float64
	model          string
	createdAt      time.Time
	updatedAt      time.Time
	version        int64
	lastEventID    uuid.UUID
}

// importanceUpdate changes the importance of a row that the batch did not
// otherwise rewrite (payload.importance is set in SQL, so the stored
// payload need not be read).
type importanceUpdate struct {
	ns, key        string
	importance     float64
	importanceNorm float64
	version        int64
	updatedAt      time.Time
	lastEventID    uuid.UUID
}

type edgeRow struct {
	ns, from, to string
	linkType     string
	weight       float64
	createdAt    time.Time
}

// wipe is a deleted memory and the latest time it was deleted.
type wipe struct {
	recKey
	at time.Time
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

// plan is the net effect of a batch. Statements must run in this order:
// record deletes, edge wipes, edge deletes, then upserts and updates.
type plan struct {
	// tombstones are the latest delete time of every memory deleted by the
	// batch (kept with GREATEST).
	tombstones        []wipe
	recordDeletes     []recKey
	recordUpserts     []recordRow
	importanceUpdates []importanceUpdate
	// wipes are memories whose outgoing edges, and incoming edges created
	// at or before the wipe's time, as stored before the batch, are
	// removed.
	wipes []wipe
	// edgeDeletes are edges removed at some point of the batch (they may
	// be re-created by edgeUpserts, with a new insertion order).
	edgeDeletes []edgeKey
	// edgeUpserts are the edges that exist after the batch and were
	// written by it, in the order they came into existence.
	edgeUpserts []edgeRow
	counts      map[string]countDelta
}

type recState struct {
	exists bool
	inDB   bool // a row existed before the batch
	// fromDB: the current record is the stored row, possibly with a new
	// importance (dirty); otherwise row holds the whole record.
	fromDB bool
	dirty  bool
	row    recordRow
}

type edgeState struct {
	exists bool
	// removed: whatever was stored under this key before the batch must be
	// deleted (the edge was unlinked or wiped during the batch).
	removed bool
	born    int // fold position at which the edge came into existence
	row     edgeRow
}

type folder struct {
	stored map[recKey]storedRecord
	// tombs are the latest delete times: stored before the batch, then
	// updated by the batch's deletes.
	tombs  map[recKey]time.Time
	recs   map[recKey]*recState
	edges  map[edgeKey]*edgeState
	byNode map[recKey][]edgeKey
	wiped  map[recKey]bool
	counts map[string]*countDelta
}

func newFolder(stored map[recKey]storedRecord, tombs map[recKey]time.Time) *folder {
	if tombs == nil {
		tombs = map[recKey]time.Time{}
	}
	return &folder{
		stored: stored,
		tombs:  tombs,
		recs:   map[recKey]*recState{},
		edges:  map[edgeKey]*edgeState{},
		byNode: map[recKey][]edgeKey{},
		wiped:  map[recKey]bool{},
		counts: map[string]*countDelta{},
	}
}

// fold folds items (validated, in log order) into a plan. tombs are the
// stored delete times of the memories the batch links to (or deletes).
func fold(items []item, stored map[recKey]storedRecord, tombs map[recKey]time.Time) plan {
	f := newFolder(stored, tombs)
	for _, it := range items {
		f.apply(it)
	}
	return f.plan()
}

func (f *folder) rec(k recKey) *recState {
	if s, ok := f.recs[k]; ok {
		return s
	}
	s := &recState{}
	if db, ok := f.stored[k]; ok {
		s.exists, s.inDB, s.fromDB = true, true, true
		s.row = recordRow{ns: k.ns, key: k.key, memType: db.memType, version: db.version}
	}
	f.recs[k] = s
	return s
}

func (f *folder) count(ns string) *countDelta {
	d, ok := f.counts[ns]
	if !ok {
		d = &countDelta{}
		f.counts[ns] = d
	}
	return d
}

func (f *folder) apply(it item) {
	meta := it.ev.Metadata()
	k := recKey{it.ns, it.key}
	switch e := it.ev.(type) {
	case domain.MemoryStored:
		s := f.rec(k)
		// A replaced memory keeps counting versions; created_at is the
		// time of the store that wrote the current payload
		// (domain.Memory.StoredAt).
		version := int64(1)
		if s.exists {
			f.count(k.ns).add(s.row.memType, -1)
			version = s.row.version + 1
		}
		f.count(k.ns).add(e.Type, 1)
		s.exists, s.fromDB, s.dirty = true, false, false
		s.row = recordRow{
			ns: k.ns, key: k.key,
			memType:        e.Type,
			payload:        e.Payload,
			importance:     e.Importance,
			importanceNorm: e.ImportanceNorm,
			model:          e.EmbeddingModel,
			createdAt:      meta.OccurredAt,
			updatedAt:      meta.OccurredAt,
			version:        version,
			lastEventID:    it.id,
		}
	case domain.MemoryDeleted:
		s := f.rec(k)
		if s.exists {
			f.count(k.ns).add(s.row.memType, -1)
			s.exists, s.fromDB, s.dirty = false, false, false
		}
		// Edges touching the memory go even when no record exists:
		// incoming edges may point at coordinates that never held one.
		// Outgoing edges share the memory's partition, so log order
		// decides; incoming edges come from other partitions, so only
		// those created at or before the delete go (see tombstones).
		td := meta.OccurredAt
		if prev, ok := f.tombs[k]; !ok || td.After(prev) {
			f.tombs[k] = td
		}
		f.wiped[k] = true
		for _, ek := range f.byNode[k] {
			es := f.edges[ek]
			if ek.from == k.key || !es.row.createdAt.After(td) {
				es.exists, es.removed = false, true
			}
		}
	case domain.MemoryImportanceSet:
		s := f.rec(k)
		if !s.exists {
			return
		}
		s.row.version++
		s.row.updatedAt = meta.OccurredAt
		s.row.lastEventID = it.id
		imp := e.Importance
		s.row.importance = &imp
		s.row.importanceNorm = e.ImportanceNorm
		if s.fromDB {
			s.dirty = true
		} else {
			s.row.payload = withImportance(s.row.payload, imp)
		}
	case domain.MemoriesLinked:
		// The write API refuses a link from a coordinate without a memory;
		// an event that still says so (a race with a delete) changes
		// nothing.
		if !f.rec(k).exists {
			return
		}
		to := recKey{k.ns, e.To.Key()}
		if td, ok := f.tombs[to]; ok && !meta.OccurredAt.After(td) && to != k {
			// The target was deleted at or after the link's time.
			return
		}
		ek := edgeKey{k.ns, k.key, to.key}
		row := edgeRow{ns: k.ns, from: k.key, to: to.key, linkType: e.LinkType, weight: e.Weight, createdAt: meta.OccurredAt}
		es, known := f.edges[ek]
		if !known {
			es = &edgeState{born: it.order}
			// A wipe earlier in the batch removed any stored edge.
			es.removed = f.wiped[k] || f.wiped[to]
			f.edges[ek] = es
			f.byNode[k] = append(f.byNode[k], ek)
			if to != k {
				f.byNode[to] = append(f.byNode[to], ek)
			}
		} else if !es.exists {
			es.born = it.order
		}
		es.exists = true
		es.row = row
	case domain.MemoryUnlinked:
		to := recKey{k.ns, e.To.Key()}
		ek := edgeKey{k.ns, k.key, to.key}
		es, known := f.edges[ek]
		if !known {
			es = &edgeState{}
			f.edges[ek] = es
			f.byNode[k] = append(f.byNode[k], ek)
			if to != k {
				f.byNode[to] = append(f.byNode[to], ek)
			}
		}
		es.exists, es.removed = false, true
	}
}

func (f *folder) plan() plan {
	var p plan
	for k, s := range f.recs {
		switch {
		case s.exists && !s.fromDB:
			p.recordUpserts = append(p.recordUpserts, s.row)
		case s.exists && s.dirty:
			p.importanceUpdates = append(p.importanceUpdates, importanceUpdate{
				ns: k.ns, key: k.key,
				importance:     *s.row.importance,
				importanceNorm: s.row.importanceNorm,
				version:        s.row.version,
				updatedAt:      s.row.updatedAt,
				lastEventID:    s.row.lastEventID,
			})
		case !s.exists && s.inDB:
			p.recordDeletes = append(p.recordDeletes, k)
		}
	}
	for k := range f.wiped {
		p.wipes = append(p.wipes, wipe{k, f.tombs[k]})
		p.tombstones = append(p.tombstones, wipe{k, f.tombs[k]})
	}
	type born struct {
		at  int
		row edgeRow
	}
	var upserts []born
	for k, es := range f.edges {
		if es.removed {
			p.edgeDeletes = append(p.edgeDeletes, k)
		}
		if es.exists {
			upserts = append(upserts, born{es.born, es.row})
		}
	}
	slices.SortFunc(upserts, func(a, b born) int { return cmp.Compare(a.at, b.at) })
	for _, u := range upserts {
		p.edgeUpserts = append(p.edgeUpserts, u.row)
	}
	for ns, d := range f.counts {
		if *d != (countDelta{}) {
			if p.counts == nil {
				p.counts = map[string]countDelta{}
			}
			p.counts[ns] = *d
		}
	}
	// Deterministic statement order keeps row locks in a stable order.
	slices.SortFunc(p.recordDeletes, cmpRecKey)
	slices.SortFunc(p.wipes, func(a, b wipe) int { return cmpRecKey(a.recKey, b.recKey) })
	slices.SortFunc(p.tombstones, func(a, b wipe) int { return cmpRecKey(a.recKey, b.recKey) })
	slices.SortFunc(p.recordUpserts, func(a, b recordRow) int { return cmpRecKey(recKey{a.ns, a.key}, recKey{b.ns, b.key}) })
	slices.SortFunc(p.importanceUpdates, func(a, b importanceUpdate) int {
		return cmpRecKey(recKey{a.ns, a.key}, recKey{b.ns, b.key})
	})
	slices.SortFunc(p.edgeDeletes, func(a, b edgeKey) int {
		return cmp.Or(cmp.Compare(a.ns, b.ns), cmp.Compare(a.from, b.from), cmp.Compare(a.to, b.to))
	})
	return p
}

func cmpRecKey(a, b recKey) int { return cmp.Or(cmp.Compare(a.ns, b.ns), cmp.Compare(a.key, b.key)) }

// withImportance returns payload with its "importance" key set to imp, as
// jsonb_set does for rows updated in SQL. payload is a validated JSON
// object.
func withImportance(payload []byte, imp float64) []byte {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(payload, &obj); err != nil || obj == nil {
		obj = map[string]json.RawMessage{}
	}
	obj["importance"] = json.RawMessage(strconv.FormatFloat(imp, 'g', -1, 64))
	out, err := json.Marshal(obj)
	if err != nil {
		return payload
	}
	return out
}
