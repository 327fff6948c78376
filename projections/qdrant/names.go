package qdrant

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/google/uuid"

	"github.com/somafractalmemory/soma/domain"
)

// DefaultCollection is the serving name of the vector index: an alias of
// the generation collection that holds the points (DefaultCollection +
// "_g1" at first). The recall side reads through it.
const DefaultCollection = "soma_memories"

// CheckpointSuffix names the side collection holding the applied positions
// of a generation collection: "<generation>_checkpoints". The positions
// describe the data of that generation, so they live and die with it.
const CheckpointSuffix = "_checkpoints"

// FirstGenerationSuffix names the generation created when nothing exists
// yet: DefaultCollection + FirstGenerationSuffix.
const FirstGenerationSuffix = "_g1"

// Payload keys of a memory point. They are the contract with the recall
// side and with every stored point: renaming one breaks filters on
// existing collections until a replay rebuilds them.
const (
	// KeyNamespace is the tenant (keyword index, is_tenant).
	KeyNamespace = "namespace"
	// KeyCoordKey is domain.Coordinate.Key() of the memory.
	KeyCoordKey = "coord_key"
	// KeyCoordinate is the coordinate as a list of numbers.
	KeyCoordinate = "coordinate"
	// KeyMemoryType is "episodic" or "semantic" (keyword index).
	KeyMemoryType = "memory_type"
	// KeyImportanceNorm is the normalised importance in [0,1].
	KeyImportanceNorm = "importance_norm"
	// KeyImportance is the raw importance, null when never given.
	KeyImportance = "importance"
	// KeyEmbeddingModel identifies the model of the point's vector.
	KeyEmbeddingModel = "embedding_model"
	// KeyStoredAt is when the memory was (last re)stored, RFC 3339 UTC.
	KeyStoredAt = "stored_at"
	// KeyUpdatedAt is when the last applied event occurred, RFC 3339 UTC.
	KeyUpdatedAt = "updated_at"
	// KeyEventID is the id of the last applied event.
	KeyEventID = "event_id"
	// KeyPayload holds the client record (domain.Memory.Record: the
	// caller's payload plus memory_type, coordinate and importance_norm)
	// as a JSON object, so recall filters address its keys as
	// "payload.<key>" (see PayloadPath).
	KeyPayload = "payload"
)

// Payload keys of a checkpoint point.
const (
	KeyCheckpointSource    = "source"
	KeyCheckpointPartition = "partition"
	KeyCheckpointOffset    = "offset"
)

// pointSpace and checkpointSpace are the UUIDv5 namespaces of point ids.
// Changing either re-keys every point: existing collections would then
// hold duplicates until rebuilt.
var (
	pointSpace      = uuid.MustParse("4a26c8a2-4027-404b-af83-1e3ea59eea4c")
	checkpointSpace = uuid.MustParse("b62f3198-a6f6-4afc-8a4a-0fd208c5f32d")
)

// PointID is the id of the point of the memory at c in namespace ns: the
// UUIDv5 of namespace + NUL + c.Key(), so one memory is one point in every
// generation and "9" and "9.0" are the same point.
func PointID(namespace string, c domain.Coordinate) string {
	return uuid.NewSHA1(pointSpace, []byte(namespace+"\x00"+c.Key())).String()
}

// checkpointID is the id of the checkpoint point of a log partition.
func checkpointID(source string, partition int32) string {
	return uuid.NewSHA1(checkpointSpace, []byte(source+"\x00"+strconv.FormatInt(int64(partition), 10))).String()
}

// PayloadPath returns the Qdrant JSON path of a top-level key of the
// client record ("payload.kind"), quoting keys that are not plain
// (`payload."a.b"`). ok is false for keys Qdrant cannot address (empty, or
// containing '"' or '\'): a filter on such a key can match nothing.
func PayloadPath(key string) (path string, ok bool) {
	if key == "" || strings.ContainsAny(key, `"\`) {
		return "", false
	}
	plain := true
	for _, r := range key {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-') {
			plain = false
			break
		}
	}
	if plain {
		return KeyPayload + "." + key, true
	}
	return KeyPayload + `."` + key + `"`, true
}
