package qdrantfake

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// pointsService implements qdrant.PointsServer.
type pointsService struct {
	qdrant.UnimplementedPointsServer
	s *store
}

// defaultLimit is Qdrant's page size when a request sets none.
const defaultLimit = 10

// errLimit is Qdrant's validation of limit (at least 1).
var errLimit = status.Error(codes.InvalidArgument, "Validation error: limit: value 0 invalid, must be 1 or larger")

func (ps *pointsService) Upsert(_ context.Context, req *qdrant.UpsertPoints) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	if req.UpdateFilter != nil || (req.UpdateMode != nil && req.GetUpdateMode() != qdrant.UpdateMode_Upsert) {
		return nil, status.Error(codes.Unimplemented, "qdrantfake: conditional upserts are not implemented")
	}
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	// Validate everything first: a rejected request writes nothing.
	staged := make([]*point, 0, len(req.GetPoints()))
	for _, ps := range req.GetPoints() {
		id, err := parsePointID(ps.GetId())
		if err != nil {
			return nil, err
		}
		vec, err := pointVector(ps.GetVectors())
		if err != nil {
			return nil, err
		}
		if vec, err = c.prepare(vec); err != nil {
			return nil, err
		}
		staged = append(staged, &point{id: id, vector: vec, payload: clonePayload(ps.GetPayload())})
	}
	for _, p := range staged {
		c.points[p.id] = p
	}
	return ps.s.updated(req.GetWait(), start), nil
}

func (ps *pointsService) Delete(_ context.Context, req *qdrant.DeletePoints) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	keys, err := c.selectPoints(req.GetPoints(), false)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		delete(c.points, k)
	}
	return ps.s.updated(req.GetWait(), start), nil
}

func (ps *pointsService) Get(_ context.Context, req *qdrant.GetPoints) (*qdrant.GetResponse, error) {
	start := time.Now()
	ps.s.mu.RLock()
	defer ps.s.mu.RUnlock()
	c, err := ps.s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	resp := &qdrant.GetResponse{}
	seen := map[pointKey]bool{}
	for _, id := range req.GetIds() {
		k, err := parsePointID(id)
		if err != nil {
			return nil, err
		}
		p, ok := c.points[k]
		if !ok || seen[k] {
			continue
		}
		seen[k] = true
		resp.Result = append(resp.Result, &qdrant.RetrievedPoint{
			Id:      k.proto(),
			Payload: selectPayload(p.payload, req.GetWithPayload()),
			Vectors: selectVectors(p.vector, req.GetWithVectors()),
		})
	}
	resp.Time = since(start)
	return resp, nil
}

func (ps *pointsService) SetPayload(_ context.Context, req *qdrant.SetPayloadPoints) (*qdrant.PointsOperationResponse, error) {
	return ps.setPayload(req, false)
}

func (ps *pointsService) OverwritePayload(_ context.Context, req *qdrant.SetPayloadPoints) (*qdrant.PointsOperationResponse, error) {
	return ps.setPayload(req, true)
}

func (ps *pointsService) setPayload(req *qdrant.SetPayloadPoints, overwrite bool) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	if req.Key != nil {
		return nil, status.Error(codes.Unimplemented, "qdrantfake: set payload at a key is not implemented")
	}
	if req.GetPointsSelector() == nil {
		return nil, status.Error(codes.InvalidArgument, "Wrong input: points selector is required")
	}
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	keys, err := c.selectPoints(req.GetPointsSelector(), true)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		p := c.points[k]
		if overwrite {
			p.payload = map[string]*qdrant.Value{}
		}
		for key, v := range clonePayload(req.GetPayload()) {
			p.payload[key] = v
		}
	}
	return ps.s.updated(req.GetWait(), start), nil
}

func (ps *pointsService) CreateFieldIndex(_ context.Context, req *qdrant.CreateFieldIndexCollection) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	if _, err := parsePath(req.GetFieldName()); err != nil {
		return nil, err
	}
	if req.FieldType == nil {
		return nil, status.Error(codes.InvalidArgument, "Wrong input: field_type is required")
	}
	var dataType qdrant.PayloadSchemaType
	switch req.GetFieldType() {
	case qdrant.FieldType_FieldTypeKeyword:
		dataType = qdrant.PayloadSchemaType_Keyword
	case qdrant.FieldType_FieldTypeInteger:
		dataType = qdrant.PayloadSchemaType_Integer
	case qdrant.FieldType_FieldTypeFloat:
		dataType = qdrant.PayloadSchemaType_Float
	case qdrant.FieldType_FieldTypeBool:
		dataType = qdrant.PayloadSchemaType_Bool
	case qdrant.FieldType_FieldTypeDatetime:
		dataType = qdrant.PayloadSchemaType_Datetime
	case qdrant.FieldType_FieldTypeUuid:
		dataType = qdrant.PayloadSchemaType_Uuid
	default:
		return nil, status.Errorf(codes.Unimplemented, "qdrantfake: %s index not implemented", req.GetFieldType())
	}
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	info := &qdrant.PayloadSchemaInfo{DataType: dataType}
	if req.GetFieldIndexParams() != nil {
		info.Params = proto.Clone(req.GetFieldIndexParams()).(*qdrant.PayloadIndexParams)
	}
	c.schema[req.GetFieldName()] = info
	return ps.s.updated(req.GetWait(), start), nil
}

func (ps *pointsService) DeleteFieldIndex(_ context.Context, req *qdrant.DeleteFieldIndexCollection) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	delete(c.schema, req.GetFieldName())
	return ps.s.updated(req.GetWait(), start), nil
}

func (ps *pointsService) Count(_ context.Context, req *qdrant.CountPoints) (*qdrant.CountResponse, error) {
	start := time.Now()
	match, err := compileFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	ps.s.mu.RLock()
	defer ps.s.mu.RUnlock()
	c, err := ps.s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	n := uint64(0)
	for _, p := range c.points {
		if match(p) {
			n++
		}
	}
	return &qdrant.CountResponse{Result: &qdrant.CountResult{Count: n}, Time: since(start)}, nil
}

// Scroll pages through the matching points in id order: offset is the
// first id of the page (inclusive) and next_page_offset the first id of
// the next page, absent on the last page.
func (ps *pointsService) Scroll(_ context.Context, req *qdrant.ScrollPoints) (*qdrant.ScrollResponse, error) {
	start := time.Now()
	if req.OrderBy != nil {
		return nil, status.Error(codes.Unimplemented, "qdrantfake: scroll order_by is not implemented")
	}
	match, err := compileFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	var from *pointKey
	if req.Offset != nil {
		k, err := parsePointID(req.GetOffset())
		if err != nil {
			return nil, err
		}
		from = &k
	}
	limit := defaultLimit
	if req.Limit != nil {
		limit = int(req.GetLimit())
	}
	if limit < 1 {
		return nil, errLimit
	}
	ps.s.mu.RLock()
	defer ps.s.mu.RUnlock()
	c, err := ps.s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	resp := &qdrant.ScrollResponse{}
	for _, p := range c.sortedPoints() {
		if from != nil && comparePointKeys(p.id, *from) < 0 || !match(p) {
			continue
		}
		if len(resp.Result) == limit {
			resp.NextPageOffset = p.id.proto()
			break
		}
		resp.Result = append(resp.Result, &qdrant.RetrievedPoint{
			Id:      p.id.proto(),
			Payload: selectPayload(p.payload, req.GetWithPayload()),
			Vectors: selectVectors(p.vector, req.GetWithVectors()),
		})
	}
	resp.Time = since(start)
	return resp, nil
}

// Query implements the universal query for a nearest-neighbour search on
// a dense vector, and for no query at all (points in id order).
func (ps *pointsService) Query(_ context.Context, req *qdrant.QueryPoints) (*qdrant.QueryResponse, error) {
	start := time.Now()
	if len(req.GetPrefetch()) > 0 || req.LookupFrom != nil || req.GetUsing() != "" {
		return nil, status.Error(codes.Unimplemented, "qdrantfake: prefetch, lookup_from and named vectors are not implemented")
	}
	var vec []float32
	if req.Query != nil {
		nearest, ok := req.GetQuery().GetVariant().(*qdrant.Query_Nearest)
		if !ok {
			return nil, status.Errorf(codes.Unimplemented, "qdrantfake: query %T not implemented", req.GetQuery().GetVariant())
		}
		dense, ok := nearest.Nearest.GetVariant().(*qdrant.VectorInput_Dense)
		if !ok {
			return nil, status.Errorf(codes.Unimplemented, "qdrantfake: nearest %T not implemented", nearest.Nearest.GetVariant())
		}
		vec = dense.Dense.GetData()
	}
	limit := uint64(defaultLimit)
	if req.Limit != nil {
		limit = req.GetLimit()
	}
	if limit < 1 {
		return nil, errLimit
	}
	res, err := ps.search(searchRequest{
		collection:  req.GetCollectionName(),
		vector:      vec,
		byVector:    req.Query != nil,
		filter:      req.GetFilter(),
		limit:       limit,
		offset:      req.GetOffset(),
		threshold:   req.ScoreThreshold,
		withPayload: req.GetWithPayload(),
		withVectors: req.GetWithVectors(),
	})
	if err != nil {
		return nil, err
	}
	return &qdrant.QueryResponse{Result: res, Time: since(start)}, nil
}

func (ps *pointsService) Search(_ context.Context, req *qdrant.SearchPoints) (*qdrant.SearchResponse, error) {
	start := time.Now()
	if req.GetVectorName() != "" || req.SparseIndices != nil {
		return nil, status.Error(codes.Unimplemented, "qdrantfake: named and sparse vectors are not implemented")
	}
	if req.GetLimit() < 1 {
		return nil, errLimit
	}
	res, err := ps.search(searchRequest{
		collection:  req.GetCollectionName(),
		vector:      req.GetVector(),
		byVector:    true,
		filter:      req.GetFilter(),
		limit:       req.GetLimit(),
		offset:      req.GetOffset(),
		threshold:   req.ScoreThreshold,
		withPayload: req.GetWithPayload(),
		withVectors: req.GetWithVectors(),
	})
	if err != nil {
		return nil, err
	}
	return &qdrant.SearchResponse{Result: res, Time: since(start)}, nil
}

type searchRequest struct {
	collection    string
	vector        []float32
	byVector      bool
	filter        *qdrant.Filter
	limit, offset uint64
	threshold     *float32
	withPayload   *qdrant.WithPayloadSelector
	withVectors   *qdrant.WithVectorsSelector
}

// search is an exact search: every point passing the filter is scored,
// then the threshold, the ordering (score descending, then id), the
// offset and the limit are applied, in that order.
func (ps *pointsService) search(req searchRequest) ([]*qdrant.ScoredPoint, error) {
	match, err := compileFilter(req.filter)
	if err != nil {
		return nil, err
	}
	ps.s.mu.RLock()
	defer ps.s.mu.RUnlock()
	c, err := ps.s.resolve(req.collection)
	if err != nil {
		return nil, err
	}
	var query []float32
	if req.byVector {
		if query, err = c.prepare(req.vector); err != nil {
			return nil, err
		}
	}
	type hit struct {
		p     *point
		score float32
	}
	var hits []hit
	for _, p := range c.points {
		if !match(p) {
			continue
		}
		h := hit{p: p}
		if req.byVector {
			h.score = dot(query, p.vector)
			if req.threshold != nil && h.score < *req.threshold {
				continue
			}
		}
		hits = append(hits, h)
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return comparePointKeys(a.p.id, b.p.id)
	})
	if req.offset >= uint64(len(hits)) {
		return []*qdrant.ScoredPoint{}, nil
	}
	hits = hits[req.offset:]
	if uint64(len(hits)) > req.limit {
		hits = hits[:req.limit]
	}
	out := make([]*qdrant.ScoredPoint, len(hits))
	for i, h := range hits {
		out[i] = &qdrant.ScoredPoint{
			Id:      h.p.id.proto(),
			Payload: selectPayload(h.p.payload, req.withPayload),
			Score:   h.score,
			Vectors: selectVectors(h.p.vector, req.withVectors),
		}
	}
	return out, nil
}

// selectPoints returns the keys a selector names. Ids that do not exist
// are dropped, or are an error when mustExist (as set_payload does).
func (c *collection) selectPoints(sel *qdrant.PointsSelector, mustExist bool) ([]pointKey, error) {
	switch v := sel.GetPointsSelectorOneOf().(type) {
	case *qdrant.PointsSelector_Points:
		var keys []pointKey
		for _, id := range v.Points.GetIds() {
			k, err := parsePointID(id)
			if err != nil {
				return nil, err
			}
			if _, ok := c.points[k]; !ok {
				if mustExist {
					return nil, status.Errorf(codes.NotFound, "Not found: No point with id %s found", k)
				}
				continue
			}
			keys = append(keys, k)
		}
		return keys, nil
	case *qdrant.PointsSelector_Filter:
		match, err := compileFilter(v.Filter)
		if err != nil {
			return nil, err
		}
		var keys []pointKey
		for k, p := range c.points {
			if match(p) {
				keys = append(keys, k)
			}
		}
		return keys, nil
	}
	return nil, status.Error(codes.InvalidArgument, "Wrong input: empty points selector")
}

// pointVector extracts the single dense vector of an upserted point.
func pointVector(v *qdrant.Vectors) ([]float32, error) {
	var vec *qdrant.Vector
	switch o := v.GetVectorsOptions().(type) {
	case *qdrant.Vectors_Vector:
		vec = o.Vector
	case *qdrant.Vectors_Vectors:
		named := o.Vectors.GetVectors()
		if len(named) != 1 || named[""] == nil {
			return nil, status.Error(codes.Unimplemented, "qdrantfake: named vectors are not implemented")
		}
		vec = named[""]
	default:
		return nil, status.Error(codes.InvalidArgument, "Wrong input: point has no vector")
	}
	//lint:ignore SA1019 the deprecated form is still accepted by Qdrant, so the double accepts it too
	if data := vec.GetData(); len(data) > 0 {
		return data, nil
	}
	if d := vec.GetDense(); d != nil {
		return d.GetData(), nil
	}
	return nil, status.Error(codes.Unimplemented, "qdrantfake: only dense vectors are implemented")
}

// prepare checks a vector against the collection and returns the form
// Qdrant stores: a normalised copy for cosine.
func (c *collection) prepare(vec []float32) ([]float32, error) {
	if uint64(len(vec)) != c.size {
		return nil, status.Errorf(codes.InvalidArgument, "Wrong input: Vector dimension error: expected dim: %d, got %d", c.size, len(vec))
	}
	out := slices.Clone(vec)
	var norm float64
	for _, x := range out {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, status.Error(codes.InvalidArgument, "Wrong input: vector contains NaN or infinity")
		}
		norm += float64(x) * float64(x)
	}
	if c.distance == qdrant.Distance_Cosine {
		// Qdrant leaves vectors shorter than f32::EPSILON as they are.
		length := float32(math.Sqrt(norm))
		if length >= float32Epsilon {
			for i := range out {
				out[i] /= length
			}
		}
	}
	return out, nil
}

// float32Epsilon is Rust's f32::EPSILON.
const float32Epsilon = 1.1920929e-07

func dot(a, b []float32) float32 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return float32(s)
}

// selectPayload applies with_payload; absent means none.
func selectPayload(p map[string]*qdrant.Value, sel *qdrant.WithPayloadSelector) map[string]*qdrant.Value {
	switch o := sel.GetSelectorOptions().(type) {
	case *qdrant.WithPayloadSelector_Enable:
		if o.Enable {
			return clonePayload(p)
		}
	case *qdrant.WithPayloadSelector_Include:
		out := map[string]*qdrant.Value{}
		for k, v := range p {
			if slices.ContainsFunc(o.Include.GetFields(), func(f string) bool { return f == k || strings.HasPrefix(f, k+".") }) {
				out[k] = proto.Clone(v).(*qdrant.Value)
			}
		}
		return out
	case *qdrant.WithPayloadSelector_Exclude:
		out := clonePayload(p)
		for _, f := range o.Exclude.GetFields() {
			delete(out, f)
		}
		return out
	}
	return nil
}

// selectVectors applies with_vectors; absent means none.
func selectVectors(v []float32, sel *qdrant.WithVectorsSelector) *qdrant.VectorsOutput {
	want := false
	switch o := sel.GetSelectorOptions().(type) {
	case *qdrant.WithVectorsSelector_Enable:
		want = o.Enable
	case *qdrant.WithVectorsSelector_Include:
		want = slices.Contains(o.Include.GetNames(), "")
	}
	if !want {
		return nil
	}
	return &qdrant.VectorsOutput{VectorsOptions: &qdrant.VectorsOutput_Vector{
		Vector: &qdrant.VectorOutput{Vector: &qdrant.VectorOutput_Dense{Dense: &qdrant.DenseVector{Data: slices.Clone(v)}}},
	}}
}

// updated is the response of a write: operations are applied before the
// call returns, so wait only changes the reported status.
func (s *store) updated(wait bool, start time.Time) *qdrant.PointsOperationResponse {
	st := qdrant.UpdateStatus_Acknowledged
	if wait {
		st = qdrant.UpdateStatus_Completed
	}
	return &qdrant.PointsOperationResponse{
		Result: &qdrant.UpdateResult{OperationId: qdrant.PtrOf(s.nextOp()), Status: st},
		Time:   since(start),
	}
}
