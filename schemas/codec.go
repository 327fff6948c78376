package schemas

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"

	"github.com/hamba/avro/v2"
	"golang.org/x/sync/singleflight"

	"github.com/somafractalmemory/soma/domain"
)

// Errors of the codec. Decode errors that match ErrUnknownSchemaID,
// ErrIncompatibleSchema or ErrMalformed can never succeed for the same
// bytes with this binary (see Permanent): the message belongs in the
// dead-letter topic. Any other Decode error (the registry unreachable) is
// transient.
var (
	// ErrUnknownSchemaID: the registry does not know the message's schema
	// id, or the schema under it is not one of our event records.
	ErrUnknownSchemaID = errors.New("unknown schema id")
	// ErrIncompatibleSchema: the writer schema is one of our records but
	// the local (reader) version cannot resolve it.
	ErrIncompatibleSchema = errors.New("writer schema incompatible with local reader schema")
	// ErrMalformed: the bytes are not a valid Confluent-framed Avro event
	// (too short, wrong magic byte, truncated or trailing data, values the
	// domain rejects).
	ErrMalformed = errors.New("malformed event message")
	// ErrInvalidEvent: Encode was given an event it cannot write (unknown
	// type, event_id not a UUID, unknown memory type).
	ErrInvalidEvent = errors.New("invalid event")
)

// Permanent reports whether a Decode error is final for these bytes: the
// message should go to the dead-letter topic instead of being retried.
func Permanent(err error) bool {
	return errors.Is(err, ErrUnknownSchemaID) || errors.Is(err, ErrIncompatibleSchema) || errors.Is(err, ErrMalformed)
}

// Confluent wire framing: magic byte 0, then the schema id as a 4-byte
// big-endian integer, then the Avro binary body.
const (
	magicByte  = 0
	headerSize = 5
)

// Decoding bounds: a corrupted length prefix must not make the decoder
// allocate gigabytes before noticing that the bytes ran out.
const (
	maxStringBytes = 16 << 20 // one string (the payload) or bytes value
	maxArrayItems  = 1 << 20  // one array (an embedding, a coordinate)
)

// SchemaID returns the schema id of a Confluent-framed message, without
// decoding it. It fails with ErrMalformed if b is shorter than the header
// or does not start with the magic byte.
func SchemaID(b []byte) (int, error) {
	if len(b) < headerSize {
		return 0, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrMalformed, len(b), headerSize)
	}
	if b[0] != magicByte {
		return 0, fmt.Errorf("%w: magic byte %#x, want 0", ErrMalformed, b[0])
	}
	return int(binary.BigEndian.Uint32(b[1:headerSize])), nil
}

// SchemaRef names one catalog version by its registry id.
type SchemaRef struct {
	ID      int
	Event   string
	Version int
}

// SchemaSource is what a Codec needs from a schema registry;
// *RegistryClient implements it.
type SchemaSource interface {
	// KnownIDs returns the registry ids of catalog versions known
	// without a round-trip (registered or resolved at start-up). It must
	// include the latest version of every event of the catalog.
	KnownIDs() []SchemaRef
	// SchemaByID returns the schema text registered under id. The error
	// wraps ErrUnknownSchemaID when the registry has no such id; any other
	// error is transient.
	SchemaByID(id int) (string, error)
}

// Codec encodes domain events into Confluent-framed Avro and back. Events
// are written with the latest catalog version of their record; messages
// are read with whatever schema their id names, resolved into the latest
// local version (so v1 events read with a v2 reader get v2's defaults).
//
// A Codec is safe for concurrent use. Writer schema ids are fixed at
// construction; reader schemas are cached by id forever (a registry never
// changes the schema behind an id).
type Codec struct {
	catalog *Catalog
	source  SchemaSource
	api     avro.API

	writers map[string]writerSchema // event name -> latest version

	mu      sync.RWMutex
	readers map[int]*readerSchema // schema id -> how to read it
	fetches singleflight.Group

	readerPool sync.Pool // *avro.Reader
	writerPool sync.Pool // *avro.Writer
}

type writerSchema struct {
	id     int
	header [headerSize]byte
	schema avro.Schema
}

type readerSchema struct {
	event  string
	schema avro.Schema // the reader schema, resolved against the writer when they differ
}

var _ SchemaSource = (*RegistryClient)(nil)

// NewCodec builds a codec over catalog, taking writer ids from
// source.KnownIDs (so the registry client must have run Register or
// Resolve). It fails if an event of the catalog has no id for its latest
// version, or if a known older version cannot be resolved into the latest.
func NewCodec(catalog *Catalog, source SchemaSource) (*Codec, error) {
	if catalog == nil || source == nil {
		return nil, errors.New("schemas: NewCodec needs a catalog and a schema source")
	}
	api := avro.Config{
		// Array blocks as "count, items" without the optional byte-size
		// prefix (the plainest form of the spec), and one block for any
		// embedding up to 4096 dimensions.
		DisableBlockSizeHeader: true,
		BlockLength:            4096,
		MaxByteSliceSize:       maxStringBytes,
		MaxSliceAllocSize:      maxArrayItems,
	}.Freeze()
	c := &Codec{
		catalog: catalog,
		source:  source,
		api:     api,
		writers: map[string]writerSchema{},
		readers: map[int]*readerSchema{},
	}
	c.readerPool.New = func() any { return avro.NewReader(nil, 0, avro.WithReaderConfig(api)) }
	c.writerPool.New = func() any { return avro.NewWriter(nil, 1024, avro.WithWriterConfig(api)) }

	for _, ref := range source.KnownIDs() {
		if ref.ID < 0 || ref.ID > math.MaxUint32 {
			return nil, fmt.Errorf("schemas: schema id %d of %s v%d does not fit the 4-byte wire header", ref.ID, ref.Event, ref.Version)
		}
		vs := catalog.versions[ref.Event]
		if ref.Version < 1 || ref.Version > len(vs) {
			return nil, fmt.Errorf("schemas: schema id %d names %s v%d, which is not in the catalog", ref.ID, ref.Event, ref.Version)
		}
		latest := vs[len(vs)-1]
		r := &readerSchema{event: ref.Event, schema: latest.Schema}
		if ref.Version != latest.Number {
			if err := checkSkippedFields(latest.Schema, vs[ref.Version-1].Schema); err != nil {
				return nil, fmt.Errorf("schemas: %s v%d cannot read v%d: %w", ref.Event, latest.Number, ref.Version, err)
			}
			resolved, err := avro.NewSchemaCompatibility().Resolve(latest.Schema, vs[ref.Version-1].Schema)
			if err != nil {
				return nil, fmt.Errorf("schemas: %s v%d cannot read v%d: %w", ref.Event, latest.Number, ref.Version, err)
			}
			r.schema = resolved
		} else {
			w := writerSchema{id: ref.ID, schema: latest.Schema}
			w.header[0] = magicByte
			binary.BigEndian.PutUint32(w.header[1:], uint32(ref.ID))
			c.writers[ref.Event] = w
		}
		c.readers[ref.ID] = r
	}
	var missing []error
	for _, event := range catalog.events {
		if _, ok := c.writers[event]; !ok {
			latest, _ := catalog.Latest(event)
			missing = append(missing, fmt.Errorf("schemas: no registry id for %s v%d (register or resolve the schemas first)", event, latest.Number))
		}
	}
	if err := errors.Join(missing...); err != nil {
		return nil, err
	}
	return c, nil
}

// WriterID returns the schema id Encode writes for event.
func (c *Codec) WriterID(event string) (int, bool) {
	w, ok := c.writers[event]
	return w.id, ok
}

// Encode returns e as a Confluent-framed message: magic byte 0, the
// 4-byte big-endian schema id of the latest version of e's record, and
// the Avro binary body. Errors wrap ErrInvalidEvent.
func (c *Codec) Encode(e domain.Event) ([]byte, error) {
	name, rec, err := toRecord(e)
	if err != nil {
		return nil, err
	}
	ws, ok := c.writers[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s has no schema in the catalog", ErrInvalidEvent, name)
	}
	w := c.writerPool.Get().(*avro.Writer)
	defer c.writerPool.Put(w)
	w.Reset(nil)
	w.Error = nil
	_, _ = w.Write(ws.header[:])
	w.WriteVal(ws.schema, rec)
	if w.Error != nil {
		return nil, fmt.Errorf("%w: encode %s: %v", ErrInvalidEvent, name, w.Error)
	}
	return append([]byte(nil), w.Buffer()...), nil
}

// Decode reads a Confluent-framed message written by Encode (by this or
// any other version of the service). The writer schema is looked up by id
// (cached; one registry round-trip the first time an unknown id is seen)
// and resolved into the latest local version of its record. The event
// returned is a value of one of the domain event structs
// (domain.MemoryStored, ...).
//
// Errors matching ErrMalformed, ErrUnknownSchemaID or
// ErrIncompatibleSchema are permanent (see Permanent); others come from
// the registry and are worth retrying.
func (c *Codec) Decode(b []byte) (domain.Event, error) {
	id, err := SchemaID(b)
	if err != nil {
		return nil, err
	}
	rs, err := c.reader(id)
	if err != nil {
		return nil, err
	}
	rec, _ := newRecord(rs.event)
	if err := c.decodeBody(rs.schema, b[headerSize:], rec); err != nil {
		return nil, fmt.Errorf("%w: %s (schema id %d): %v", ErrMalformed, rs.event, id, err)
	}
	return toEvent(rec)
}

// EventNameOf returns the event name (a domain.Event* constant) of the
// record registered under schema id: a map lookup for known ids, one
// registry round-trip the first time another id is seen. Errors are
// classified as Decode's.
func (c *Codec) EventNameOf(id int) (string, error) {
	rs, err := c.reader(id)
	if err != nil {
		return "", err
	}
	return rs.event, nil
}

// decodeBody decodes the Avro body into v with schema and insists that
// every byte was consumed.
func (c *Codec) decodeBody(schema avro.Schema, body []byte, v any) (err error) {
	r := c.readerPool.Get().(*avro.Reader)
	defer func() {
		r.Error = nil
		r.Reset(nil)
		c.readerPool.Put(r)
	}()
	defer func() {
		// Decoders are generated for well-formed data; a corrupted body
		// must not take the consumer down with it.
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder panic: %v", p)
		}
	}()
	r.Reset(body)
	r.ReadVal(schema, v)
	if r.Error != nil {
		if errors.Is(r.Error, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return r.Error
	}
	// Peek at end of input sets io.EOF; anything else means bytes are
	// left over.
	r.Peek()
	if !errors.Is(r.Error, io.EOF) {
		return errors.New("trailing bytes after the record")
	}
	return nil
}

// reader returns how to read schema id, fetching and resolving the
// writer schema the first time the id is seen. Concurrent misses on one id
// share one registry request.
func (c *Codec) reader(id int) (*readerSchema, error) {
	c.mu.RLock()
	rs := c.readers[id]
	c.mu.RUnlock()
	if rs != nil {
		return rs, nil
	}
	v, err, _ := c.fetches.Do(strconv.Itoa(id), func() (any, error) {
		text, err := c.source.SchemaByID(id)
		if err != nil {
			return nil, err
		}
		rs, err := c.resolveWriter(id, text)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.readers[id] = rs
		c.mu.Unlock()
		return rs, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*readerSchema), nil
}

// resolveWriter builds the reader of a writer schema fetched by id.
func (c *Codec) resolveWriter(id int, text string) (*readerSchema, error) {
	writer, err := parseSchema(text)
	if err != nil {
		return nil, fmt.Errorf("%w: schema id %d does not parse as Avro: %v", ErrUnknownSchemaID, id, err)
	}
	rec, ok := writer.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("%w: schema id %d is a %s, not an event record", ErrUnknownSchemaID, id, writer.Type())
	}
	event, ok := EventForRecord(rec.FullName())
	if !ok {
		return nil, fmt.Errorf("%w: schema id %d is record %q, not an event record", ErrUnknownSchemaID, id, rec.FullName())
	}
	latest, ok := c.catalog.Latest(event)
	if !ok {
		return nil, fmt.Errorf("%w: schema id %d is %s, which this catalog does not read", ErrUnknownSchemaID, id, event)
	}
	if err := checkSkippedFields(latest.Schema, writer); err != nil {
		return nil, fmt.Errorf("%w: schema id %d (%s) cannot be read by local v%d: %v", ErrIncompatibleSchema, id, event, latest.Number, err)
	}
	// A fresh checker: its verdict cache ignores defaults.
	resolved, err := avro.NewSchemaCompatibility().Resolve(latest.Schema, writer)
	if err != nil {
		return nil, fmt.Errorf("%w: schema id %d (%s) cannot be read by local v%d: %v", ErrIncompatibleSchema, id, event, latest.Number, err)
	}
	return &readerSchema{event: event, schema: resolved}, nil
}

// checkSkippedFields refuses a writer record whose fields unknown to the
// reader record hold an array or a map, at any depth. The decoder skips
// such fields, and the Avro library's skip loops trust the block count
// on the wire without checking for the end of input: one message
// declaring 2^62 items would pin a CPU for ever (GO-2026-5046, no fixed
// release of github.com/hamba/avro/v2). Arrays and maps the reader knows
// are decoded, not skipped, and stay bounded by MaxSliceAllocSize; no
// catalog record has a map (GO-2026-5048, unbounded map growth).
// Fields of records present on both sides are checked recursively.
func checkSkippedFields(reader, writer avro.Schema) error {
	rr, ok := unref(reader).(*avro.RecordSchema)
	if !ok {
		return nil
	}
	wr, ok := unref(writer).(*avro.RecordSchema)
	if !ok {
		return nil
	}
	known := map[string]*avro.Field{}
	for _, f := range rr.Fields() {
		known[f.Name()] = f
		for _, a := range f.Aliases() {
			known[a] = f
		}
	}
	for _, wf := range wr.Fields() {
		rf, ok := known[wf.Name()]
		if !ok {
			if hasBlocks(wf.Type(), map[string]bool{}) {
				return fmt.Errorf("field %s.%s holds an array or a map that this reader would have to skip (unbounded in the Avro library)", wr.FullName(), wf.Name())
			}
			continue
		}
		if err := checkSkippedFields(rf.Type(), wf.Type()); err != nil {
			return err
		}
	}
	return nil
}

// hasBlocks reports whether s is or contains an array or a map. seen
// holds the named records already visited (recursive types).
func hasBlocks(s avro.Schema, seen map[string]bool) bool {
	switch s := unref(s).(type) {
	case *avro.ArraySchema, *avro.MapSchema:
		return true
	case *avro.UnionSchema:
		for _, t := range s.Types() {
			if hasBlocks(t, seen) {
				return true
			}
		}
	case *avro.RecordSchema:
		if seen[s.FullName()] {
			return false
		}
		seen[s.FullName()] = true
		for _, f := range s.Fields() {
			if hasBlocks(f.Type(), seen) {
				return true
			}
		}
	}
	return false
}

// unref returns the schema a reference to a named type stands for.
func unref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}
