// Package qdrant is the vector read model: one Qdrant point per memory
// (id PointID(namespace, coordinate), the event's embedding as a cosine
// vector, the memory's fields and client record as payload), with payload
// indexes on namespace (tenant) and memory_type, so recall filters by
// tenant, type and payload inside the search, before the top-k cut.
//
// Layout. The serving name (Config.Collection, default "soma_memories") is
// an alias of a generation collection ("soma_memories_g1", ...). The
// projection writes to one generation, resolved once by New; a replay
// builds the next generation beside the serving one (Config.Generation)
// and switches the alias with Promote. New creates what is missing and
// never recreates, empties or reconfigures an existing collection: one of
// another dimension or distance is refused with ErrIncompatibleCollection.
//
// Positions. The applied offset of every (source, partition) is a point of
// the side collection "<generation>_checkpoints" (vector size 1, payload
// {source, partition, offset}). Events at or below the stored offset are
// skipped.
//
// Atomicity. Qdrant has no transactions, so Apply is not all-or-nothing:
// it writes the batch's points (upserts, then deletes, wait=true) and only
// then the new positions (wait=true). A crash or error between the two
// leaves the data ahead of the positions; the runner retries the batch and
// the same upserts and deletes are applied again. Every write sets a
// point to the state the batch leaves it in (whole points, never
// increments), so re-applying converges to the same state. Everything that
// can make a batch poison is checked before the first write, so a
// PoisonError leaves Qdrant untouched.
//
// Concurrency. Calls for different partitions may run concurrently; the
// caller must not apply one partition from two places at once (a consumer
// group gives each partition to one member).
package qdrant

import (
	"context"
	"fmt"
	"math"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/somafractalmemory/soma/projections"
)

// Projection applies events to the Qdrant read model.
type Projection struct {
	client      *qc.Client
	cfg         Config
	alias       string // serving name
	collection  string // generation written to
	checkpoints string
}

var _ projections.Projection = (*Projection)(nil)

// New resolves the generation to write to, creates what is missing (the
// generation collection with cfg.Dim and cosine distance, its payload
// indexes, the alias when nothing serves yet, the checkpoint collection)
// and checks what exists. It never deletes or recreates anything.
func New(ctx context.Context, client *qc.Client, cfg Config) (*Projection, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if client == nil {
		return nil, fmt.Errorf("%w: nil client", ErrInvalidConfig)
	}
	p := &Projection{client: client, cfg: cfg, alias: cfg.Collection}

	aliases, err := client.ListAliases(ctx)
	if err != nil {
		return nil, fmt.Errorf("qdrant projection: list aliases: %w", err)
	}
	target := ""
	for _, a := range aliases {
		if a.GetAliasName() == cfg.Collection {
			target = a.GetCollectionName()
		}
	}
	plain := false
	if target == "" {
		if plain, err = client.CollectionExists(ctx, cfg.Collection); err != nil {
			return nil, fmt.Errorf("qdrant projection: check collection %s: %w", cfg.Collection, err)
		}
	}
	switch {
	case cfg.Generation != "":
		p.collection = cfg.Generation
	case target != "":
		p.collection = target
	case plain:
		// A collection (not an alias) carries the serving name: use it as
		// is rather than hide it behind a new generation.
		p.collection = cfg.Collection
	default:
		p.collection = cfg.Collection + FirstGenerationSuffix
	}
	p.checkpoints = p.collection + CheckpointSuffix

	info, err := p.ensureCollection(ctx, p.collection, uint64(cfg.Dim), qc.Distance_Cosine) // #nosec G115 -- Config.Validate requires Dim > 0
	if err != nil {
		return nil, err
	}
	if err := p.ensureIndexes(ctx, info); err != nil {
		return nil, err
	}
	if _, err := p.ensureCollection(ctx, p.checkpoints, 1, qc.Distance_Dot); err != nil {
		return nil, err
	}
	if target == "" && !plain {
		if err := client.CreateAlias(ctx, cfg.Collection, p.collection); err != nil {
			return nil, fmt.Errorf("qdrant projection: alias %s -> %s: %w", cfg.Collection, p.collection, err)
		}
	}
	return p, nil
}

// Name is projections.Qdrant.
func (p *Projection) Name() string { return projections.Qdrant }

// Collection is the generation collection the projection writes to.
func (p *Projection) Collection() string { return p.collection }

// Alias is the serving name the recall side reads through.
func (p *Projection) Alias() string { return p.alias }

// Promote points the serving alias at this projection's generation, in one
// alias request (Qdrant applies it under one lock, so no search sees a
// missing alias). The previous generation is left in place.
func (p *Projection) Promote(ctx context.Context) error {
	if p.collection == p.alias {
		return fmt.Errorf("qdrant projection: %s is a collection, not an alias: nothing to promote", p.alias)
	}
	err := p.client.UpdateAliases(ctx, []*qc.AliasOperations{
		qc.NewAliasDelete(p.alias),
		qc.NewAliasCreate(p.alias, p.collection),
	})
	if err != nil {
		return fmt.Errorf("qdrant projection: point %s at %s: %w", p.alias, p.collection, err)
	}
	return nil
}

// ensureCollection creates name if it does not exist and checks that it
// holds one unnamed vector of size dim and the given distance.
func (p *Projection) ensureCollection(ctx context.Context, name string, dim uint64, dist qc.Distance) (*qc.CollectionInfo, error) {
	exists, err := p.client.CollectionExists(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("qdrant projection: check collection %s: %w", name, err)
	}
	if !exists {
		err := p.client.CreateCollection(ctx, &qc.CreateCollection{
			CollectionName: name,
			VectorsConfig:  qc.NewVectorsConfig(&qc.VectorParams{Size: dim, Distance: dist}),
		})
		if err != nil {
			// Another process may have created it meanwhile.
			if again, err2 := p.client.CollectionExists(ctx, name); err2 != nil || !again {
				return nil, fmt.Errorf("qdrant projection: create collection %s: %w", name, err)
			}
		}
	}
	info, err := p.client.GetCollectionInfo(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("qdrant projection: get collection %s: %w", name, err)
	}
	params := info.GetConfig().GetParams().GetVectorsConfig().GetParams()
	switch {
	case params == nil:
		return nil, fmt.Errorf("%w: %s has named vectors, want one unnamed vector of size %d", ErrIncompatibleCollection, name, dim)
	case params.GetSize() != dim:
		return nil, fmt.Errorf("%w: %s has vectors of dimension %d, configured dimension is %d (replay into a new generation to change it)",
			ErrIncompatibleCollection, name, params.GetSize(), dim)
	case params.GetDistance() != dist:
		return nil, fmt.Errorf("%w: %s uses %s distance, want %s", ErrIncompatibleCollection, name, params.GetDistance(), dist)
	}
	return info, nil
}

// ensureIndexes creates the payload indexes the recall side filters on,
// when the collection lacks them.
func (p *Projection) ensureIndexes(ctx context.Context, info *qc.CollectionInfo) error {
	indexes := []struct {
		field  string
		params *qc.PayloadIndexParams
	}{
		{KeyNamespace, qc.NewPayloadIndexParamsKeyword(&qc.KeywordIndexParams{IsTenant: qc.PtrOf(true)})},
		{KeyMemoryType, nil},
	}
	for _, ix := range indexes {
		if _, ok := info.GetPayloadSchema()[ix.field]; ok {
			continue
		}
		_, err := p.client.CreateFieldIndex(ctx, &qc.CreateFieldIndexCollection{
			CollectionName:   p.collection,
			Wait:             qc.PtrOf(true),
			FieldName:        ix.field,
			FieldType:        qc.FieldType_FieldTypeKeyword.Enum(),
			FieldIndexParams: ix.params,
		})
		if err != nil {
			return fmt.Errorf("qdrant projection: index %s.%s: %w", p.collection, ix.field, err)
		}
	}
	return nil
}

// Positions returns the applied offset of every partition of source.
func (p *Projection) Positions(ctx context.Context, source string) (map[int32]int64, error) {
	out := map[int32]int64{}
	var offset *qc.PointId
	for {
		page, next, err := p.client.ScrollAndOffset(ctx, &qc.ScrollPoints{
			CollectionName: p.checkpoints,
			Filter:         &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword(KeyCheckpointSource, source)}},
			Offset:         offset,
			Limit:          qc.PtrOf(uint32(256)),
			WithPayload:    qc.NewWithPayload(true),
		})
		if err != nil {
			return nil, fmt.Errorf("qdrant projection: read positions of %s: %w", source, err)
		}
		for _, pt := range page {
			pl := pt.GetPayload()
			part, okPart := pl[KeyCheckpointPartition].GetKind().(*qc.Value_IntegerValue)
			off, okOff := pl[KeyCheckpointOffset].GetKind().(*qc.Value_IntegerValue)
			if !okPart || !okOff || part.IntegerValue < 0 || part.IntegerValue > math.MaxInt32 {
				return nil, fmt.Errorf("qdrant projection: checkpoint point %s of %s is malformed: %v", pt.GetId().GetUuid(), source, pl)
			}
			out[int32(part.IntegerValue)] = off.IntegerValue
		}
		if next == nil {
			return out, nil
		}
		offset = next
	}
}

// writePositions stores the new offsets, after the data they cover.
func (p *Projection) writePositions(ctx context.Context, advanced map[sourcePartition]int64) error {
	if len(advanced) == 0 {
		return nil
	}
	points := make([]*qc.PointStruct, 0, len(advanced))
	for sp, off := range advanced {
		points = append(points, &qc.PointStruct{
			Id:      qc.NewIDUUID(checkpointID(sp.source, sp.partition)),
			Vectors: qc.NewVectorsDense([]float32{1}),
			Payload: map[string]*qc.Value{
				KeyCheckpointSource:    qc.NewValueString(sp.source),
				KeyCheckpointPartition: qc.NewValueInt(int64(sp.partition)),
				KeyCheckpointOffset:    qc.NewValueInt(off),
			},
		})
	}
	if _, err := p.client.Upsert(ctx, &qc.UpsertPoints{CollectionName: p.checkpoints, Wait: qc.PtrOf(true), Points: points}); err != nil {
		return fmt.Errorf("qdrant projection: write positions: %w", err)
	}
	return nil
}
