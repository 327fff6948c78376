package qdrant

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/projections"
)

// reasonNilEvent is the poison reason of a nil event in a batch.
const reasonNilEvent = "nil event"

type sourcePartition struct {
	source    string
	partition int32
}

// opKind is what one event does to its point.
type opKind int

const (
	opStore opKind = iota + 1
	opDelete
	opImportance
)

// op is the validated effect of one event on one point.
type op struct {
	kind  opKind
	id    string
	point *qc.PointStruct            // opStore
	imp   domain.MemoryImportanceSet // opImportance
}

// pointState is a point as the batch leaves it. point is nil for a point
// known not to exist.
type pointState struct {
	point   *qc.PointStruct
	deleted bool
	dirty   bool
}

// Apply applies the events above the stored positions: it folds them per
// point in log order (a store replaces, a delete removes, an importance
// change edits the memory if it exists at that moment, links are ignored),
// writes the resulting points and deletions in batches, then the new
// positions. See the package documentation for what a failure leaves
// behind.
func (p *Projection) Apply(ctx context.Context, batch []projections.Envelope) error {
	if len(batch) == 0 {
		return nil
	}
	positions := map[string]map[int32]int64{}
	for _, env := range batch {
		if _, ok := positions[env.Source]; ok {
			continue
		}
		pos, err := p.Positions(ctx, env.Source)
		if err != nil {
			return err
		}
		positions[env.Source] = pos
	}

	// Select and validate, with no I/O: a poison event is reported before
	// anything is written.
	var ops []op
	advanced := map[sourcePartition]int64{}
	for i, env := range batch {
		cur, ok := positions[env.Source][env.Partition]
		if ok && env.Offset <= cur {
			continue
		}
		positions[env.Source][env.Partition] = env.Offset
		advanced[sourcePartition{env.Source, env.Partition}] = env.Offset
		o, reason := p.toOp(env.Event)
		if reason != "" {
			return &PoisonError{Index: i, Envelope: env, Reason: reason}
		}
		if o.kind != 0 {
			ops = append(ops, o)
		}
	}
	if len(advanced) == 0 {
		return nil
	}

	states, order, err := p.fold(ctx, ops)
	if err != nil {
		return err
	}
	var upserts []*qc.PointStruct
	var deletes []*qc.PointId
	for _, id := range order {
		st := states[id]
		switch {
		case !st.dirty:
		case st.deleted:
			deletes = append(deletes, qc.NewIDUUID(id))
		case st.point != nil:
			upserts = append(upserts, st.point)
		}
	}
	for chunk := range slices.Chunk(upserts, p.cfg.BatchSize) {
		_, err := p.client.Upsert(ctx, &qc.UpsertPoints{CollectionName: p.collection, Wait: qc.PtrOf(true), Points: chunk})
		if err != nil {
			return fmt.Errorf("qdrant projection: upsert %d points into %s: %w", len(chunk), p.collection, err)
		}
	}
	for chunk := range slices.Chunk(deletes, p.cfg.BatchSize) {
		_, err := p.client.Delete(ctx, &qc.DeletePoints{CollectionName: p.collection, Wait: qc.PtrOf(true), Points: qc.NewPointsSelectorIDs(chunk)})
		if err != nil {
			return fmt.Errorf("qdrant projection: delete %d points from %s: %w", len(chunk), p.collection, err)
		}
	}
	return p.writePositions(ctx, advanced)
}

// fold replays ops over the points they touch. Points whose first op is an
// importance change are read from Qdrant first (one request per chunk),
// since the change applies only to a memory that exists.
func (p *Projection) fold(ctx context.Context, ops []op) (map[string]*pointState, []string, error) {
	states := map[string]*pointState{}
	var order []string
	var fetch []*qc.PointId
	for _, o := range ops {
		if _, seen := states[o.id]; seen {
			continue
		}
		states[o.id] = &pointState{}
		order = append(order, o.id)
		if o.kind == opImportance {
			fetch = append(fetch, qc.NewIDUUID(o.id))
		}
	}
	for chunk := range slices.Chunk(fetch, p.cfg.BatchSize) {
		got, err := p.client.Get(ctx, &qc.GetPoints{
			CollectionName: p.collection,
			Ids:            chunk,
			WithPayload:    qc.NewWithPayload(true),
			WithVectors:    qc.NewWithVectors(true),
		})
		if err != nil {
			return nil, nil, fmt.Errorf("qdrant projection: read %d points of %s: %w", len(chunk), p.collection, err)
		}
		for _, rp := range got {
			id := rp.GetId().GetUuid()
			st, ok := states[id]
			if !ok {
				continue
			}
			vec := rp.GetVectors().GetVector().GetDenseVector().GetData()
			if len(vec) == 0 {
				return nil, nil, fmt.Errorf("qdrant projection: point %s of %s came back without its vector", id, p.collection)
			}
			payload := rp.GetPayload()
			if payload == nil {
				payload = map[string]*qc.Value{}
			}
			st.point = &qc.PointStruct{Id: qc.NewIDUUID(id), Vectors: qc.NewVectorsDense(vec), Payload: payload}
		}
	}
	for _, o := range ops {
		st := states[o.id]
		switch o.kind {
		case opStore:
			*st = pointState{point: o.point, dirty: true}
		case opDelete:
			*st = pointState{deleted: true, dirty: true}
		case opImportance:
			if st.deleted || st.point == nil {
				continue // no memory there: nothing to change
			}
			applyImportance(st.point.Payload, o.imp)
			st.dirty = true
		}
	}
	return states, order, nil
}

// applyImportance edits a point's payload as domain.Memory.ApplyImportance
// edits the memory: raw and normalised importance, the record's
// "importance" and "importance_norm", the last event.
func applyImportance(pl map[string]*qc.Value, e domain.MemoryImportanceSet) {
	pl[KeyImportance] = qc.NewValueDouble(e.Importance)
	pl[KeyImportanceNorm] = qc.NewValueDouble(e.ImportanceNorm)
	pl[KeyUpdatedAt] = qc.NewValueString(formatTime(e.OccurredAt))
	pl[KeyEventID] = qc.NewValueString(e.EventID)
	rec := pl[KeyPayload].GetStructValue()
	if rec == nil {
		rec = &qc.Struct{}
		pl[KeyPayload] = qc.NewValueStruct(rec)
	}
	if rec.Fields == nil {
		rec.Fields = map[string]*qc.Value{}
	}
	rec.Fields[domain.PayloadKeyImportance] = qc.NewValueDouble(e.Importance)
	rec.Fields[domain.RecordKeyImportanceNorm] = qc.NewValueDouble(e.ImportanceNorm)
}

// toOp validates an event and returns its effect on the index (kind 0 for
// events this read model ignores), or the reason it can never apply.
func (p *Projection) toOp(ev domain.Event) (op, string) {
	switch e := ev.(type) {
	case nil:
		return op{}, reasonNilEvent
	case *domain.MemoryStored:
		if e == nil {
			return op{}, reasonNilEvent
		}
		return p.toOp(*e)
	case *domain.MemoryDeleted:
		if e == nil {
			return op{}, reasonNilEvent
		}
		return p.toOp(*e)
	case *domain.MemoryImportanceSet:
		if e == nil {
			return op{}, reasonNilEvent
		}
		return p.toOp(*e)
	case *domain.MemoriesLinked, *domain.MemoryUnlinked, domain.MemoriesLinked, domain.MemoryUnlinked:
		return op{}, "" // the graph is not part of this read model
	case domain.MemoryStored:
		if r := checkMeta(e.EventMeta); r != "" {
			return op{}, r
		}
		pt, reason := p.storedPoint(e)
		if reason != "" {
			return op{}, reason
		}
		return op{kind: opStore, id: PointID(e.Namespace, e.Coordinate), point: pt}, ""
	case domain.MemoryDeleted:
		if r := checkMeta(e.EventMeta); r != "" {
			return op{}, r
		}
		return op{kind: opDelete, id: PointID(e.Namespace, e.Coordinate)}, ""
	case domain.MemoryImportanceSet:
		if r := checkMeta(e.EventMeta); r != "" {
			return op{}, r
		}
		switch {
		case !finite(e.Importance):
			return op{}, "importance is not finite"
		case !finite(e.ImportanceNorm) || e.ImportanceNorm < 0 || e.ImportanceNorm > 1:
			return op{}, fmt.Sprintf("importance_norm %v is not in [0,1]", e.ImportanceNorm)
		}
		return op{kind: opImportance, id: PointID(e.Namespace, e.Coordinate), imp: e}, ""
	}
	return op{}, fmt.Sprintf("unsupported event type %T", ev)
}

// storedPoint builds the point a MemoryStored leaves behind.
func (p *Projection) storedPoint(e domain.MemoryStored) (*qc.PointStruct, string) {
	switch {
	case e.Type != domain.Episodic && e.Type != domain.Semantic:
		return nil, fmt.Sprintf("memory type %q is neither %q nor %q", e.Type, domain.Episodic, domain.Semantic)
	case e.Importance != nil && !finite(*e.Importance):
		return nil, "importance is not finite"
	case !finite(e.ImportanceNorm) || e.ImportanceNorm < 0 || e.ImportanceNorm > 1:
		return nil, fmt.Sprintf("importance_norm %v is not in [0,1]", e.ImportanceNorm)
	case len(e.Embedding) != p.cfg.Dim:
		return nil, fmt.Sprintf("embedding has dimension %d, the index has %d", len(e.Embedding), p.cfg.Dim)
	case !utf8.ValidString(e.EmbeddingModel):
		return nil, "embedding model is not valid UTF-8"
	case p.cfg.EmbeddingModel != "" && e.EmbeddingModel != p.cfg.EmbeddingModel:
		return nil, fmt.Sprintf("embedding model %q, the index holds %q", e.EmbeddingModel, p.cfg.EmbeddingModel)
	}
	for i, f := range e.Embedding {
		if !finite(float64(f)) {
			return nil, fmt.Sprintf("embedding value %d is not finite", i)
		}
	}
	mem, err := domain.MemoryFromStored(e)
	if err != nil {
		return nil, err.Error()
	}
	record, err := toFields(mem.Record())
	if err != nil {
		return nil, fmt.Sprintf("payload: %v", err)
	}
	importance := qc.NewValueNull()
	if mem.Importance != nil {
		importance = qc.NewValueDouble(*mem.Importance)
	}
	coord, _ := toValue(mem.Coordinate.Values())
	when := qc.NewValueString(formatTime(e.OccurredAt))
	vec := make([]float32, len(e.Embedding))
	copy(vec, e.Embedding)
	return &qc.PointStruct{
		Id:      qc.NewIDUUID(PointID(e.Namespace, e.Coordinate)),
		Vectors: qc.NewVectorsDense(vec),
		Payload: map[string]*qc.Value{
			KeyNamespace:      qc.NewValueString(e.Namespace),
			KeyCoordKey:       qc.NewValueString(e.Coordinate.Key()),
			KeyCoordinate:     coord,
			KeyMemoryType:     qc.NewValueString(string(e.Type)),
			KeyImportanceNorm: qc.NewValueDouble(e.ImportanceNorm),
			KeyImportance:     importance,
			KeyEmbeddingModel: qc.NewValueString(e.EmbeddingModel),
			KeyStoredAt:       when,
			KeyUpdatedAt:      when,
			KeyEventID:        qc.NewValueString(e.EventID),
			KeyPayload:        qc.NewValueFromFields(record),
		},
	}, ""
}

func checkMeta(m domain.EventMeta) string {
	if err := domain.ValidateMeta(m); err != nil {
		return err.Error()
	}
	if !utf8.ValidString(m.EventID) {
		return "event_id is not valid UTF-8"
	}
	return ""
}

// formatTime is the form of stored_at and updated_at: RFC 3339 in UTC with
// nanoseconds, which Qdrant's datetime index and range filters accept.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
