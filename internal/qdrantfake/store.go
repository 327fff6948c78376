package qdrantfake

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// store is the state shared by the three services. One mutex guards
// everything: the double favours obviously-correct over fast.
type store struct {
	mu          sync.RWMutex
	collections map[string]*collection
	aliases     map[string]string // alias -> collection
	opID        uint64
}

func newStore() *store {
	return &store{collections: map[string]*collection{}, aliases: map[string]string{}}
}

type collection struct {
	name     string
	size     uint64
	distance qdrant.Distance
	schema   map[string]*qdrant.PayloadSchemaInfo
	points   map[pointKey]*point
}

type point struct {
	id      pointKey
	vector  []float32
	payload map[string]*qdrant.Value
}

// pointKey is a point id: a number, or a UUID. Numbers sort before UUIDs,
// UUIDs by their 128-bit value, as in Qdrant.
type pointKey struct {
	isUUID bool
	num    uint64
	uuid   uuid.UUID
}

func parsePointID(id *qdrant.PointId) (pointKey, error) {
	switch v := id.GetPointIdOptions().(type) {
	case *qdrant.PointId_Num:
		return pointKey{num: v.Num}, nil
	case *qdrant.PointId_Uuid:
		u, err := uuid.Parse(v.Uuid)
		if err != nil {
			return pointKey{}, status.Errorf(codes.InvalidArgument, "Unable to parse UUID: %s", v.Uuid)
		}
		return pointKey{isUUID: true, uuid: u}, nil
	}
	return pointKey{}, status.Error(codes.InvalidArgument, "Wrong input: empty point id")
}

func (k pointKey) proto() *qdrant.PointId {
	if k.isUUID {
		return qdrant.NewIDUUID(k.uuid.String())
	}
	return qdrant.NewIDNum(k.num)
}

func (k pointKey) String() string {
	if k.isUUID {
		return k.uuid.String()
	}
	return fmt.Sprint(k.num)
}

func comparePointKeys(a, b pointKey) int {
	if a.isUUID != b.isUUID {
		if a.isUUID {
			return 1
		}
		return -1
	}
	if !a.isUUID {
		return cmp.Compare(a.num, b.num)
	}
	return slices.Compare(a.uuid[:], b.uuid[:])
}

// resolve returns the collection behind a collection name or alias.
// Callers hold s.mu.
func (s *store) resolve(name string) (*collection, error) {
	if c, ok := s.collections[name]; ok {
		return c, nil
	}
	if target, ok := s.aliases[name]; ok {
		if c, ok := s.collections[target]; ok {
			return c, nil
		}
	}
	return nil, notFound(name)
}

func notFound(name string) error {
	return status.Errorf(codes.NotFound, "Not found: Collection `%s` doesn't exist!", name)
}

func (s *store) nextOp() uint64 {
	s.opID++
	return s.opID
}

// sortedPoints returns the points of c in id order.
func (c *collection) sortedPoints() []*point {
	keys := slices.SortedFunc(maps.Keys(c.points), comparePointKeys)
	out := make([]*point, len(keys))
	for i, k := range keys {
		out[i] = c.points[k]
	}
	return out
}

func clonePayload(p map[string]*qdrant.Value) map[string]*qdrant.Value {
	out := make(map[string]*qdrant.Value, len(p))
	for k, v := range p {
		out[k] = proto.Clone(v).(*qdrant.Value)
	}
	return out
}
