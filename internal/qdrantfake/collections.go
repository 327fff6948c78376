package qdrantfake

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// collectionsService implements qdrant.CollectionsServer.
type collectionsService struct {
	qdrant.UnimplementedCollectionsServer
	s *store
}

func (cs *collectionsService) Create(_ context.Context, req *qdrant.CreateCollection) (*qdrant.CollectionOperationResponse, error) {
	start := time.Now()
	name := req.GetCollectionName()
	if name == "" {
		return nil, status.Error(codes.InvalidArgument, "Validation error: collection_name must not be empty")
	}
	params := req.GetVectorsConfig().GetParams()
	if params == nil {
		return nil, status.Error(codes.Unimplemented, "qdrantfake: only one unnamed dense vector per collection is implemented")
	}
	if params.GetSize() == 0 {
		return nil, status.Error(codes.InvalidArgument, "Validation error: vectors size must be at least 1")
	}
	switch params.GetDistance() {
	case qdrant.Distance_Cosine, qdrant.Distance_Dot:
	case qdrant.Distance_UnknownDistance:
		return nil, status.Error(codes.InvalidArgument, "Wrong input: unknown distance")
	default:
		return nil, status.Errorf(codes.Unimplemented, "qdrantfake: distance %s not implemented", params.GetDistance())
	}
	if req.GetSparseVectorsConfig() != nil || req.ShardingMethod != nil {
		return nil, status.Error(codes.Unimplemented, "qdrantfake: sparse vectors and custom sharding are not implemented")
	}

	cs.s.mu.Lock()
	defer cs.s.mu.Unlock()
	if _, ok := cs.s.collections[name]; ok {
		return nil, status.Errorf(codes.InvalidArgument, "Wrong input: Collection `%s` already exists!", name)
	}
	if _, ok := cs.s.aliases[name]; ok {
		return nil, status.Errorf(codes.InvalidArgument, "Wrong input: Can't create collection with name %s. Alias with the same name already exists", name)
	}
	cs.s.collections[name] = &collection{
		name:     name,
		size:     params.GetSize(),
		distance: params.GetDistance(),
		schema:   map[string]*qdrant.PayloadSchemaInfo{},
		points:   map[pointKey]*point{},
	}
	return &qdrant.CollectionOperationResponse{Result: true, Time: since(start)}, nil
}

func (cs *collectionsService) Get(_ context.Context, req *qdrant.GetCollectionInfoRequest) (*qdrant.GetCollectionInfoResponse, error) {
	start := time.Now()
	cs.s.mu.RLock()
	defer cs.s.mu.RUnlock()
	c, err := cs.s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	schema := make(map[string]*qdrant.PayloadSchemaInfo, len(c.schema))
	for k, v := range c.schema {
		info := proto.Clone(v).(*qdrant.PayloadSchemaInfo)
		info.Points = qdrant.PtrOf(uint64(len(c.points)))
		schema[k] = info
	}
	n := uint64(len(c.points))
	return &qdrant.GetCollectionInfoResponse{
		Result: &qdrant.CollectionInfo{
			Status:          qdrant.CollectionStatus_Green,
			OptimizerStatus: &qdrant.OptimizerStatus{Ok: true},
			SegmentsCount:   1,
			Config: &qdrant.CollectionConfig{
				Params: &qdrant.CollectionParams{
					ShardNumber: 1,
					VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{
						Size:     c.size,
						Distance: c.distance,
					}),
					ReplicationFactor:      qdrant.PtrOf(uint32(1)),
					WriteConsistencyFactor: qdrant.PtrOf(uint32(1)),
				},
				HnswConfig:      &qdrant.HnswConfigDiff{},
				OptimizerConfig: &qdrant.OptimizersConfigDiff{},
				WalConfig:       &qdrant.WalConfigDiff{},
			},
			PayloadSchema:       schema,
			PointsCount:         &n,
			IndexedVectorsCount: qdrant.PtrOf(uint64(0)),
		},
		Time: since(start),
	}, nil
}

func (cs *collectionsService) List(context.Context, *qdrant.ListCollectionsRequest) (*qdrant.ListCollectionsResponse, error) {
	start := time.Now()
	cs.s.mu.RLock()
	defer cs.s.mu.RUnlock()
	resp := &qdrant.ListCollectionsResponse{}
	for _, name := range slices.Sorted(maps.Keys(cs.s.collections)) {
		resp.Collections = append(resp.Collections, &qdrant.CollectionDescription{Name: name})
	}
	resp.Time = since(start)
	return resp, nil
}

// Delete drops a collection (not an alias) and every alias pointing at it.
// A missing collection is not an error: the result is false.
func (cs *collectionsService) Delete(_ context.Context, req *qdrant.DeleteCollection) (*qdrant.CollectionOperationResponse, error) {
	start := time.Now()
	cs.s.mu.Lock()
	defer cs.s.mu.Unlock()
	name := req.GetCollectionName()
	maps.DeleteFunc(cs.s.aliases, func(_, target string) bool { return target == name })
	_, existed := cs.s.collections[name]
	delete(cs.s.collections, name)
	return &qdrant.CollectionOperationResponse{Result: existed, Time: since(start)}, nil
}

func (cs *collectionsService) CollectionExists(_ context.Context, req *qdrant.CollectionExistsRequest) (*qdrant.CollectionExistsResponse, error) {
	start := time.Now()
	cs.s.mu.RLock()
	defer cs.s.mu.RUnlock()
	_, err := cs.s.resolve(req.GetCollectionName())
	return &qdrant.CollectionExistsResponse{
		Result: &qdrant.CollectionExists{Exists: err == nil},
		Time:   since(start),
	}, nil
}

// UpdateAliases applies the actions in order under one lock, so readers
// never see a half-switched alias. As in Qdrant, actions before a failing
// one stay applied.
func (cs *collectionsService) UpdateAliases(_ context.Context, req *qdrant.ChangeAliases) (*qdrant.CollectionOperationResponse, error) {
	start := time.Now()
	cs.s.mu.Lock()
	defer cs.s.mu.Unlock()
	for _, action := range req.GetActions() {
		switch a := action.GetAction().(type) {
		case *qdrant.AliasOperations_CreateAlias:
			target, alias := a.CreateAlias.GetCollectionName(), a.CreateAlias.GetAliasName()
			if _, ok := cs.s.collections[target]; !ok {
				return nil, notFound(target)
			}
			if _, ok := cs.s.collections[alias]; ok {
				return nil, status.Errorf(codes.InvalidArgument, "Wrong input: Collection `%s` already exists!", alias)
			}
			cs.s.aliases[alias] = target
		case *qdrant.AliasOperations_DeleteAlias:
			delete(cs.s.aliases, a.DeleteAlias.GetAliasName())
		case *qdrant.AliasOperations_RenameAlias:
			oldName, newName := a.RenameAlias.GetOldAliasName(), a.RenameAlias.GetNewAliasName()
			target, ok := cs.s.aliases[oldName]
			if !ok {
				return nil, status.Errorf(codes.NotFound, "Not found: Alias %s does not exists!", oldName)
			}
			delete(cs.s.aliases, oldName)
			cs.s.aliases[newName] = target
		default:
			return nil, status.Error(codes.InvalidArgument, "Wrong input: empty alias operation")
		}
	}
	return &qdrant.CollectionOperationResponse{Result: true, Time: since(start)}, nil
}

func (cs *collectionsService) ListAliases(context.Context, *qdrant.ListAliasesRequest) (*qdrant.ListAliasesResponse, error) {
	start := time.Now()
	cs.s.mu.RLock()
	defer cs.s.mu.RUnlock()
	return &qdrant.ListAliasesResponse{Aliases: cs.s.aliasList(""), Time: since(start)}, nil
}

func (cs *collectionsService) ListCollectionAliases(_ context.Context, req *qdrant.ListCollectionAliasesRequest) (*qdrant.ListAliasesResponse, error) {
	start := time.Now()
	cs.s.mu.RLock()
	defer cs.s.mu.RUnlock()
	name := req.GetCollectionName()
	if _, ok := cs.s.collections[name]; !ok {
		return nil, notFound(name)
	}
	return &qdrant.ListAliasesResponse{Aliases: cs.s.aliasList(name), Time: since(start)}, nil
}

// aliasList returns the aliases (of collection, or all when empty) sorted
// by alias name.
func (s *store) aliasList(collection string) []*qdrant.AliasDescription {
	var out []*qdrant.AliasDescription
	for _, alias := range slices.Sorted(maps.Keys(s.aliases)) {
		target := s.aliases[alias]
		if collection == "" || target == collection {
			out = append(out, &qdrant.AliasDescription{AliasName: alias, CollectionName: target})
		}
	}
	return out
}

func since(start time.Time) float64 { return time.Since(start).Seconds() }
