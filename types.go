package soma

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/somafractalmemory/soma/domain"
)

// Memory is what a program can do with SomaFractalMemory. Two
// implementations exist: *Client talks to a running service over HTTP, and
// the in-process *System runs the service inside the program. Both return
// the sentinel errors of errors.go (ErrInvalid, ErrNotFound, …), so code
// written against Memory does not care which one it holds.
//
// Writes return an Accepted (event ids and consistency token); an
// implementation keeps its own writes visible to its own later reads
// (read-your-writes within one Memory value). Implementations are safe for
// concurrent use.
type Memory interface {
	// Store stores (or replaces) the memory at req.Coordinate; a nil
	// Coordinate is the empty coordinate.
	Store(ctx context.Context, req StoreRequest) (StoreResult, error)
	// Remember stores a memory; a nil req.Coordinate asks the service to
	// generate one (returned in StoreResult.Coordinate).
	Remember(ctx context.Context, req StoreRequest) (StoreResult, error)
	// StoreBulk stores every item or none: one invalid item rejects the
	// batch.
	StoreBulk(ctx context.Context, items []StoreRequest) (BulkResult, error)
	// Link creates or replaces the directed edge From→To. The source must
	// exist (ErrNotFound otherwise); the target need not.
	Link(ctx context.Context, req LinkRequest) (Accepted, error)
	// Unlink removes the edge from→to; removing a missing edge succeeds.
	Unlink(ctx context.Context, from, to Coordinate) (Accepted, error)
	// Delete removes a memory, its vector and its edges; idempotent.
	// DeleteResult.Deleted is 1 when it existed, else 0.
	Delete(ctx context.Context, coord Coordinate) (DeleteResult, error)
	// DeleteMany deletes every coordinate; Deleted counts those that
	// existed.
	DeleteMany(ctx context.Context, coords []Coordinate) (DeleteResult, error)
	// SetImportance sets a memory's raw importance and returns the new
	// normalised importance. ErrNotFound when the memory does not exist.
	SetImportance(ctx context.Context, coord Coordinate, importance float64) (ImportanceResult, error)

	// Get returns the memory at coord, ErrNotFound when there is none.
	Get(ctx context.Context, coord Coordinate) (Record, error)
	// Recall returns the best matches of a text query, best first.
	Recall(ctx context.Context, req RecallRequest) ([]Record, error)
	// RecallWithScores is Recall with the parts of each score.
	RecallWithScores(ctx context.Context, req RecallRequest) ([]ScoredRecord, error)
	// Neighbors returns the outgoing edges of coord in insertion order
	// (empty for an unknown coordinate).
	Neighbors(ctx context.Context, coord Coordinate, opts NeighborsOptions) ([]Edge, error)
	// ShortestPath returns the cheapest path from→to by edge weight,
	// following only edges of linkType when it is not empty: [from] when
	// from equals to, empty when there is no path.
	ShortestPath(ctx context.Context, from, to Coordinate, linkType string) ([]Coordinate, error)
	// Range returns the coordinates within [req.Min, req.Max] (inclusive,
	// compared on the common prefix of dimensions; a nil bound is open).
	Range(ctx context.Context, req RangeRequest) ([]Coordinate, error)
	// Stats counts the namespace's memories.
	Stats(ctx context.Context) (Stats, error)

	// Export writes every record of the namespace to w as NDJSON, the
	// format Import reads, and returns how many records it wrote: one
	// Record per line, ordered by coordinate, then one LinkLine ({"link":
	// {"from", "to", "type", "weight", "timestamp"}}) per edge, by source
	// in record order and per source in insertion order.
	Export(ctx context.Context, w io.Writer) (int, error)
	// Import stores the NDJSON records read from r and re-creates the
	// edges of its link lines (a link's source must be one of the records
	// or an existing memory). Without replace, records whose coordinate
	// already holds a memory are skipped; link lines are always applied
	// (re-linking replaces the edge). Blank lines are skipped; a malformed
	// line is ErrInvalid naming its line number.
	Import(ctx context.Context, r io.Reader, replace bool) (ImportResult, error)

	// Close releases the implementation's resources.
	Close() error
}

// Coordinate is the address of a memory: any number (0 allowed) of finite
// float64 values. Its JSON form is an array of numbers; its text form is
// "1,2,3". The values 9 and 9.0 are the same coordinate; -0 is 0.
type Coordinate []float64

// ParseCoordinate parses the text form "1, 2,3": parts are separated by
// commas, trimmed, empty parts dropped, each a float (1e3 accepted). A
// part that is not a finite number is an error matching ErrInvalid.
func ParseCoordinate(s string) (Coordinate, error) {
	c, err := domain.ParseCoordinate(s)
	if err != nil {
		return nil, invalid(err)
	}
	return Coordinate(c.Values()), nil
}

// String returns the text form: the shortest decimal form of each value
// joined by commas ("1,2.5,1000").
func (c Coordinate) String() string {
	var b strings.Builder
	for i, f := range c {
		if i > 0 {
			b.WriteByte(',')
		}
		if f == 0 {
			f = 0 // fold -0
		}
		b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	}
	return b.String()
}

// Equal reports whether both name the same memory.
func (c Coordinate) Equal(o Coordinate) bool {
	if len(c) != len(o) {
		return false
	}
	for i := range c {
		if c[i] != o[i] {
			return false
		}
	}
	return true
}

// MarshalJSON writes an array of numbers; nil is [].
func (c Coordinate) MarshalJSON() ([]byte, error) {
	if c == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]float64(c))
}

// UnmarshalJSON reads an array of numbers or the text form as a JSON
// string ("1,2,3"), as the API accepts both.
func (c *Coordinate) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		*c = nil
		return nil
	}
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		v, err := ParseCoordinate(s)
		if err != nil {
			return err
		}
		*c = v
		return nil
	}
	var vals []float64
	if err := json.Unmarshal(data, &vals); err != nil {
		return invalid(fmt.Errorf("invalid coordinate %s: %v", data, err))
	}
	v, err := domain.NewCoordinate(vals)
	if err != nil {
		return invalid(err)
	}
	*c = Coordinate(v.Values())
	return nil
}

// MemoryType is episodic or semantic. On store, anything but Semantic
// (including "") is episodic; on recall and range, "" means no filter.
type MemoryType string

// Memory types.
const (
	Episodic MemoryType = "episodic"
	Semantic MemoryType = "semantic"
)

// Keys of the flat record form (the API's JSON). Renaming one breaks
// clients and stored exports.
const (
	KeyMemoryType     = "memory_type"
	KeyCoordinate     = "coordinate"
	KeyImportanceNorm = "importance_norm"
	KeyTimestamp      = "timestamp"
)

// Record is one memory as the API returns it.
//
// Its JSON form is flat, as on the wire: the caller's payload keys plus
// memory_type, coordinate, importance_norm and (episodic memories)
// timestamp. Decoding keeps numbers of the payload as json.Number so their
// text survives an export and import unchanged.
type Record struct {
	Coordinate Coordinate
	Type       MemoryType
	// ImportanceNorm is the normalised importance in [0,1].
	ImportanceNorm float64
	// Timestamp is the memory's epoch seconds when the record has a
	// numeric "timestamp" (episodic memories get one at store time; a
	// caller's own is kept). A non-numeric caller timestamp stays in
	// Payload instead.
	Timestamp *float64
	// Payload holds the caller's fields, including a raw "importance" as
	// given; never nil after decoding.
	Payload map[string]any
}

// Time returns Timestamp as a time, zero when there is none.
func (r Record) Time() time.Time {
	if r.Timestamp == nil {
		return time.Time{}
	}
	sec := *r.Timestamp
	whole := int64(sec)
	return time.Unix(whole, int64((sec-float64(whole))*1e9)).UTC()
}

// MarshalJSON writes the flat form; the system fields override payload
// keys of the same name.
func (r Record) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(r.Payload)+4)
	maps.Copy(m, r.Payload)
	if r.Type != "" {
		m[KeyMemoryType] = string(r.Type)
	}
	m[KeyCoordinate] = r.Coordinate
	m[KeyImportanceNorm] = r.ImportanceNorm
	if r.Timestamp != nil {
		m[KeyTimestamp] = *r.Timestamp
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON reads the flat form.
func (r *Record) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return err
	}
	if m == nil {
		return fmt.Errorf("record: not a JSON object")
	}
	var out Record
	if v, ok := m[KeyMemoryType]; ok {
		s, _ := v.(string)
		out.Type = MemoryType(s)
		delete(m, KeyMemoryType)
	}
	if v, ok := m[KeyCoordinate]; ok {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if err := out.Coordinate.UnmarshalJSON(b); err != nil {
			return fmt.Errorf("record: %w", err)
		}
		delete(m, KeyCoordinate)
	}
	if v, ok := m[KeyImportanceNorm]; ok {
		if n, ok := v.(json.Number); ok {
			f, err := n.Float64()
			if err != nil {
				return fmt.Errorf("record: importance_norm: %w", err)
			}
			out.ImportanceNorm = f
		}
		delete(m, KeyImportanceNorm)
	}
	if v, ok := m[KeyTimestamp]; ok {
		if n, ok := v.(json.Number); ok {
			if f, err := n.Float64(); err == nil {
				out.Timestamp = &f
				delete(m, KeyTimestamp)
			}
		}
	}
	out.Payload = m
	*r = out
	return nil
}

// ScoredRecord is one result of RecallWithScores: Score =
// max(0, Cosine) × ImportanceNorm.
type ScoredRecord struct {
	Record         Record
	Cosine         float64
	ImportanceNorm float64
	Score          float64
}

// Edge is a directed, typed, weighted link between two memories.
type Edge struct {
	// From is the source (set by Neighbors to the coordinate asked for).
	From   Coordinate
	To     Coordinate
	Type   string
	Weight float64
	// Timestamp is when the edge was (last) linked; zero when unknown.
	Timestamp time.Time
}

// Stats counts the memories of a namespace.
type Stats struct {
	TotalMemories int64 `json:"total_memories"`
	Episodic      int64 `json:"episodic"`
	Semantic      int64 `json:"semantic"`
}

// StoreRequest is one memory to store.
type StoreRequest struct {
	// Coordinate of the memory. For Remember, nil asks for a generated
	// one; for Store and StoreBulk, nil is the empty coordinate.
	Coordinate Coordinate
	// Payload is the caller's JSON object (a raw "importance" number and
	// an own "timestamp" are honoured). Nil is sent as {}.
	Payload map[string]any
	// Type: Semantic, or anything else for episodic.
	Type MemoryType
	// Vector is the caller's own embedding; nil lets the service embed.
	Vector []float32
}

// RecallRequest is a similarity query.
type RecallRequest struct {
	Query string
	// TopK is 1..1000; 0 means the service default (5).
	TopK int
	// Type filters by memory type; "" means both.
	Type MemoryType
	// Filters are equality on top-level payload keys; all must match.
	Filters map[string]any
}

// LinkRequest links From→To.
type LinkRequest struct {
	From Coordinate
	To   Coordinate
	// Type of the edge; "" is "related".
	Type string
	// Weight is the edge's cost for ShortestPath: finite and ≥ 0 (0 is a
	// valid weight, a free edge). Nil is DefaultLinkWeight, as for the
	// HTTP API and the CLI; set it with Weight(w).
	Weight *float64
}

// Link defaults, the same as the HTTP API's.
const (
	// DefaultLinkType is the type of a link given none.
	DefaultLinkType = "related"
	// DefaultLinkWeight is the weight of a link given none.
	DefaultLinkWeight = 1.0
)

// Weight returns a pointer to w, for LinkRequest.Weight.
func Weight(w float64) *float64 { return &w }

// NeighborsOptions filter Neighbors.
type NeighborsOptions struct {
	// Type keeps only edges of this type; "" keeps all.
	Type string
	// Limit caps the number of edges; 0 means the service default (1000,
	// capped at 10000).
	Limit int
}

// RangeRequest selects coordinates by bounds.
type RangeRequest struct {
	// Min and Max are inclusive; nil is open.
	Min, Max Coordinate
	// Type filters by memory type; "" means both.
	Type MemoryType
}

// Accepted is the answer to every write: the ids of the events it wrote
// and the consistency token of their log positions ("" when nothing was
// written). Sending the token with a later read makes the read wait until
// the write is visible.
type Accepted struct {
	EventIDs         []string `json:"event_ids"`
	ConsistencyToken string   `json:"consistency_token"`
}

// StoreResult answers Store and Remember.
type StoreResult struct {
	Accepted
	// Coordinate is where the memory was stored.
	Coordinate Coordinate `json:"coord"`
}

// BulkResult answers StoreBulk.
type BulkResult struct {
	Accepted
	Stored int `json:"stored"`
}

// DeleteResult answers Delete and DeleteMany: how many memories existed.
type DeleteResult struct {
	Accepted
	Deleted int `json:"deleted"`
}

// ImportanceResult answers SetImportance.
type ImportanceResult struct {
	Accepted
	ImportanceNorm float64 `json:"importance_norm"`
}

// ImportResult answers Import.
type ImportResult struct {
	Accepted
	// Imported records were stored; Skipped ones already existed (only
	// without replace).
	Imported int `json:"imported"`
	Skipped  int `json:"skipped"`
	// Links is how many edges were re-created.
	Links int `json:"linked"`
}

// KeyLink is the single key of a link line in an export; a record line
// always has a "coordinate" key, so it is never a link line.
const KeyLink = "link"

// LinkLine is the NDJSON line of an edge in an export: {"link": {...}}.
type LinkLine struct {
	Link ExportedLink `json:"link"`
}

// ExportedLink is one edge in an export.
type ExportedLink struct {
	From   Coordinate `json:"from"`
	To     Coordinate `json:"to"`
	Type   string     `json:"type"`
	Weight float64    `json:"weight"`
	// Timestamp is when the edge was linked (epoch seconds); Import
	// ignores it (the re-created edge is linked now).
	Timestamp *float64 `json:"timestamp,omitempty"`
}
