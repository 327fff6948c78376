package qdrant

import (
	"context"
	"errors"
	"fmt"
	"math"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	projqdrant "github.com/somafractalmemory/soma/projections/qdrant"
	"github.com/somafractalmemory/soma/queries"
)

// checkpointPage is the page size of the checkpoint scroll.
const checkpointPage = 256

// Positions returns the applied offset of every partition of source, as
// recorded by the projection in the checkpoints collection of the
// generation the serving alias points at (resolved on every call, so a
// promoted generation is read as soon as it serves). A serving name that
// is a plain collection is read as such. When nothing exists yet (no
// alias, collection or checkpoints collection) nothing has been applied:
// the map is empty.
func (ix *Index) Positions(ctx context.Context, source string) (map[int32]int64, error) {
	if ix.err != nil {
		return nil, ix.err
	}
	generation, err := ix.generation(ctx)
	if err != nil {
		return nil, err
	}
	checkpoints := generation + projqdrant.CheckpointSuffix
	out := map[int32]int64{}
	var offset *qc.PointId
	for {
		page, next, err := ix.client.ScrollAndOffset(ctx, &qc.ScrollPoints{
			CollectionName: checkpoints,
			Filter:         &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword(projqdrant.KeyCheckpointSource, source)}},
			Offset:         offset,
			Limit:          qc.PtrOf(uint32(checkpointPage)),
			WithPayload:    qc.NewWithPayload(true),
			WithVectors:    qc.NewWithVectors(false),
		})
		if isNotFound(err) {
			return map[int32]int64{}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("qdrant index %s: read positions of %s from %s: %w", ix.collection, source, checkpoints, classify(err))
		}
		for _, pt := range page {
			pl := pt.GetPayload()
			part, okPart := pl[projqdrant.KeyCheckpointPartition].GetKind().(*qc.Value_IntegerValue)
			off, okOff := pl[projqdrant.KeyCheckpointOffset].GetKind().(*qc.Value_IntegerValue)
			if !okPart || !okOff || part.IntegerValue < 0 || part.IntegerValue > math.MaxInt32 {
				return nil, fmt.Errorf("qdrant index %s: checkpoint point %s of %s is malformed", ix.collection, pointID(pt.GetId()), source)
			}
			out[int32(part.IntegerValue)] = off.IntegerValue
		}
		if next == nil {
			return out, nil
		}
		offset = next
	}
}

// generation resolves the serving name to the collection holding the
// points: the alias target, or the name itself when it is no alias.
func (ix *Index) generation(ctx context.Context) (string, error) {
	aliases, err := ix.client.ListAliases(ctx)
	if err != nil {
		return "", fmt.Errorf("qdrant index %s: list aliases: %w", ix.collection, classify(err))
	}
	for _, a := range aliases {
		if a.GetAliasName() == ix.collection {
			return a.GetCollectionName(), nil
		}
	}
	return ix.collection, nil
}

// classify marks the errors of a Qdrant that cannot be reached or did not
// answer in time with queries.ErrUnavailable.
func classify(err error) error {
	if err == nil || errors.Is(err, queries.ErrUnavailable) {
		return err
	}
	var se interface{ GRPCStatus() *status.Status }
	if errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &se) && (se.GRPCStatus().Code() == codes.Unavailable || se.GRPCStatus().Code() == codes.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", queries.ErrUnavailable, err)
	}
	return err
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var se interface{ GRPCStatus() *status.Status }
	return errors.As(err, &se) && se.GRPCStatus().Code() == codes.NotFound
}
