package redis

// Key layout. Every key of a generation starts with
// "<prefix>:{<generation>}:"; the braces make the generation a Redis
// Cluster hash tag, so all keys of one generation live in one hash slot
// and the apply script (which touches records, counters and positions in
// one call) and MGET-style reads work on a cluster as on a single node.
//
//	<prefix>:current                             string  the serving generation (Promote)
//	<prefix>:{<gen>}:rec:<namespace>:<coord_key> hash    one memory (fields below)
//	<prefix>:{<gen>}:count:<namespace>           hash    total, episodic, semantic
//	<prefix>:{<gen>}:pos:<source>                hash    partition → offset of the last applied event
//
// <coord_key> is domain.Coordinate.Key() (never contains ':'), so a record
// key splits at its last ':'. These names are read by every process that
// serves queries from Redis: renaming a segment or a field orphans the
// data of every existing generation (replay into a new one).
const (
	// SegmentCurrent names the pointer key "<prefix>:current".
	SegmentCurrent = "current"
	// SegmentRecord names record keys.
	SegmentRecord = "rec"
	// SegmentCount names counter keys.
	SegmentCount = "count"
	// SegmentPosition names position keys.
	SegmentPosition = "pos"
)

// Fields of a record hash. They hold what domain.Memory needs; the
// embedding is never stored in Redis.
const (
	FieldNamespace      = "namespace"
	FieldCoordinate     = "coordinate" // domain.Coordinate.Key()
	FieldType           = "type"       // "episodic" or "semantic"
	FieldPayload        = "payload"    // the stored payload, JSON object text as on the event
	FieldImportance     = "importance" // raw importance (shortest decimal form); absent when never given
	FieldImportanceNorm = "importance_norm"
	FieldStoredAt       = "stored_at"  // RFC 3339, UTC, nanoseconds
	FieldUpdatedAt      = "updated_at" // RFC 3339, UTC, nanoseconds
	FieldVersion        = "version"
	FieldLastEventID    = "last_event_id"
	// FieldPayloadImportance, when present, replaces the payload's
	// "importance" key on read: MemoryImportanceSet sets it instead of
	// rewriting the payload text, and the next MemoryStored removes it.
	FieldPayloadImportance = "payload_importance"
)

// Fields of a counter hash. The per-type fields are the domain.MemoryType
// values themselves.
const (
	CountTotal    = "total"
	CountEpisodic = "episodic" // string(domain.Episodic)
	CountSemantic = "semantic" // string(domain.Semantic)
)

// recordFields is the HMGET field list of a record, in the order
// decodeRecord reads them.
var recordFields = [...]string{
	FieldNamespace, FieldCoordinate, FieldType, FieldPayload, FieldImportance,
	FieldImportanceNorm, FieldStoredAt, FieldUpdatedAt, FieldVersion, FieldLastEventID,
	FieldPayloadImportance,
}

// Keys builds the keys of one generation.
type Keys struct {
	prefix, generation string
	base               string // "<prefix>:{<generation>}:"
}

// NewKeys returns the keys of generation under prefix. Neither is
// validated here (Config.Validate, ValidatePrefix and ValidateGeneration
// do that).
func NewKeys(prefix, generation string) Keys {
	return Keys{prefix: prefix, generation: generation, base: prefix + ":{" + generation + "}:"}
}

// Prefix is the prefix of the keys.
func (k Keys) Prefix() string { return k.prefix }

// Generation is the generation of the keys.
func (k Keys) Generation() string { return k.generation }

// Base is the common start of every key of the generation.
func (k Keys) Base() string { return k.base }

// Record is the key of the memory at coordKey in namespace ns.
func (k Keys) Record(ns, coordKey string) string {
	return k.base + SegmentRecord + ":" + ns + ":" + coordKey
}

// Counts is the key of the counters of namespace ns.
func (k Keys) Counts(ns string) string { return k.base + SegmentCount + ":" + ns }

// Positions is the key of the applied offsets of source.
func (k Keys) Positions(source string) string { return k.base + SegmentPosition + ":" + source }

// PointerKey is the key naming the serving generation under prefix.
func PointerKey(prefix string) string { return prefix + ":" + SegmentCurrent }
