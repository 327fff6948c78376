package qdrant

import (
	"context"
	"fmt"
	"time"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/somafractalmemory/soma/domain"
)

// Record reads back the memory at c in namespace ns from the generation
// this projection writes (ok false when there is none). The index keeps no
// version: Memory.Version is 0. Payload is the client record without its
// system keys (memory_type, coordinate, importance_norm), so a caller's
// payload key of one of those names does not survive the round trip.
// Integers come back as json.Number, other numbers as float64.
func (p *Projection) Record(ctx context.Context, ns string, c domain.Coordinate) (domain.Memory, bool, error) {
	pt, ok, err := p.get(ctx, ns, c, false)
	if err != nil || !ok {
		return domain.Memory{}, false, err
	}
	pl := pt.GetPayload()
	m := domain.Memory{
		Namespace:      pl[KeyNamespace].GetStringValue(),
		Coordinate:     c,
		Type:           domain.MemoryType(pl[KeyMemoryType].GetStringValue()),
		LastEventID:    pl[KeyEventID].GetStringValue(),
		ImportanceNorm: pl[KeyImportanceNorm].GetDoubleValue(),
	}
	if raw, ok := number(pl[KeyImportance]); ok {
		m.Importance = &raw
	}
	if m.StoredAt, err = parseTime(pl[KeyStoredAt]); err != nil {
		return domain.Memory{}, false, fmt.Errorf("qdrant projection: point of %s/%s: %s: %w", ns, c.Key(), KeyStoredAt, err)
	}
	if m.UpdatedAt, err = parseTime(pl[KeyUpdatedAt]); err != nil {
		return domain.Memory{}, false, fmt.Errorf("qdrant projection: point of %s/%s: %s: %w", ns, c.Key(), KeyUpdatedAt, err)
	}
	m.Payload = fromFields(pl[KeyPayload].GetStructValue().GetFields())
	delete(m.Payload, domain.RecordKeyMemoryType)
	delete(m.Payload, domain.RecordKeyCoordinate)
	delete(m.Payload, domain.RecordKeyImportanceNorm)
	return m, true, nil
}

// Vector returns the vector stored for the memory at c in namespace ns (ok
// false when there is none). Qdrant normalises cosine vectors on insert,
// so this is the event's embedding scaled to unit length.
func (p *Projection) Vector(ctx context.Context, ns string, c domain.Coordinate) ([]float32, bool, error) {
	pt, ok, err := p.get(ctx, ns, c, true)
	if err != nil || !ok {
		return nil, false, err
	}
	return pt.GetVectors().GetVector().GetDenseVector().GetData(), true, nil
}

// Counts returns how many memories namespace ns holds, in total and per
// type (exact counts).
func (p *Projection) Counts(ctx context.Context, ns string) (total, episodic, semantic int64, err error) {
	count := func(conds ...*qc.Condition) (int64, error) {
		n, err := p.client.Count(ctx, &qc.CountPoints{
			CollectionName: p.collection,
			Filter:         &qc.Filter{Must: append([]*qc.Condition{qc.NewMatchKeyword(KeyNamespace, ns)}, conds...)},
			Exact:          qc.PtrOf(true),
		})
		if err != nil {
			return 0, fmt.Errorf("qdrant projection: count %s in %s: %w", ns, p.collection, err)
		}
		return int64(n), nil // #nosec G115 -- a point count is far below 2^63
	}
	if total, err = count(); err != nil {
		return 0, 0, 0, err
	}
	if semantic, err = count(qc.NewMatchKeyword(KeyMemoryType, string(domain.Semantic))); err != nil {
		return 0, 0, 0, err
	}
	return total, total - semantic, semantic, nil
}

func (p *Projection) get(ctx context.Context, ns string, c domain.Coordinate, withVector bool) (*qc.RetrievedPoint, bool, error) {
	got, err := p.client.Get(ctx, &qc.GetPoints{
		CollectionName: p.collection,
		Ids:            []*qc.PointId{qc.NewIDUUID(PointID(ns, c))},
		WithPayload:    qc.NewWithPayload(!withVector),
		WithVectors:    qc.NewWithVectors(withVector),
	})
	if err != nil {
		return nil, false, fmt.Errorf("qdrant projection: get %s/%s from %s: %w", ns, c.Key(), p.collection, err)
	}
	if len(got) == 0 {
		return nil, false, nil
	}
	return got[0], true, nil
}

func parseTime(v *qc.Value) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, v.GetStringValue())
}
