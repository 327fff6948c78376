// Package postgres is the read side of the Postgres read model
// (projections/postgres): records by key, the link graph, coordinate
// ranges, per-namespace counts, the export stream, the event history and
// the applied positions, over the tables of one schema.
//
// Where the projection already exports a read helper with the semantics a
// port needs (Neighbors, Counts, Positions, History) it is used as is;
// the rest is SQL of this package against the same tables (see the
// projection's migrations). Table names are qualified with the schema, so
// the pool's search_path does not matter.
//
// Ordering by coordinate key is bytewise (COLLATE "C"), as Go compares
// strings, whatever the database's default collation.
//
// Errors: a server that cannot be reached, refuses connections or does not
// answer in time is reported wrapping queries.ErrUnavailable; other errors
// are wrapped with what was being read.
package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/somafractalmemory/soma/domain"
	ppg "github.com/somafractalmemory/soma/projections/postgres"
	"github.com/somafractalmemory/soma/queries"
)

// Store reads the Postgres read model of one schema. It is safe for
// concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	schema string
	proj   *ppg.Projection // the projection's read helpers; never applies
	q      statements
	err    error
}

var (
	_ queries.RecordStore    = (*Store)(nil)
	_ queries.Graph          = (*Store)(nil)
	_ queries.RangeScanner   = (*Store)(nil)
	_ queries.Counter        = (*Store)(nil)
	_ queries.Exporter       = (*Store)(nil)
	_ queries.PositionReader = (*Store)(nil)
)

// New returns the reader of schema (ppg.DefaultSchema when empty), which
// must have been migrated (ppg.Migrate). It does no I/O; an invalid schema
// name or a nil pool makes every call fail with that error.
func New(pool *pgxpool.Pool, schema string) *Store {
	if schema == "" {
		schema = ppg.DefaultSchema
	}
	s := &Store{pool: pool, schema: schema}
	s.err = ppg.ValidateSchemaName(schema)
	if pool == nil {
		s.err = errors.Join(s.err, errors.New("postgres store: nil pool"))
	}
	if s.err == nil {
		s.q = newStatements(schema)
		s.proj = ppg.New(pool, ppg.Config{Schema: schema, Encoder: readOnly{}})
	}
	return s
}

// Schema is the schema the store reads.
func (s *Store) Schema() string { return s.schema }

// readOnly is the projection's encoder for a projection that only reads.
type readOnly struct{}

func (readOnly) EncodeBody(domain.Event) ([]byte, error) {
	return nil, errors.New("postgres store: read-only, cannot encode events")
}

// statements holds this package's SQL for one schema.
type statements struct {
	records  string
	outEdges string
	rangeQ   string
	export   string
}

// recordColumns are the columns scanRecord reads, in order.
const recordColumns = `coord_key, coordinate, memory_type, payload, importance, importance_norm, created_at, updated_at, version, last_event_id`

func newStatements(schema string) statements {
	s := pgx.Identifier{schema}.Sanitize()
	r := strings.NewReplacer("{records}", s+".records", "{links}", s+".links", "{cols}", recordColumns)
	return statements{
		records: r.Replace(`
SELECT {cols} FROM {records} WHERE namespace = $1 AND coord_key = ANY($2::text[])`),
		outEdges: r.Replace(`
SELECT from_key, from_coord, to_coord, link_type, weight, created_at FROM {links}
WHERE namespace = $1 AND from_key = ANY($2::text[]) AND ($3::text = '' OR link_type = $3::text)
ORDER BY from_key, seq`),
		// A coordinate is in the box when no dimension it shares with a
		// bound is outside it. The first line is a necessary condition on
		// the first dimension that the (namespace, coordinate) index can
		// serve (array comparison is lexicographic: c >= {lo1} iff
		// c[1] >= lo1, c <= {hi1, Infinity} iff c[1] <= hi1, for c not
		// empty); the empty coordinate (key '') matches every box.
		rangeQ: r.Replace(`
SELECT coordinate FROM {records} r
WHERE r.namespace = $1
  AND ((r.coordinate >= $4::float8[] AND r.coordinate <= $5::float8[]) OR r.coord_key = '')
  AND ($6::text = '' OR r.memory_type = $6::text)
  AND NOT EXISTS (
    SELECT 1 FROM generate_subscripts(r.coordinate, 1) AS i
    WHERE (i <= cardinality($2::float8[]) AND r.coordinate[i] < ($2::float8[])[i])
       OR (i <= cardinality($3::float8[]) AND r.coordinate[i] > ($3::float8[])[i]))
ORDER BY r.coord_key COLLATE "C"
LIMIT $7`),
		export: r.Replace(`
SELECT {cols} FROM {records} WHERE namespace = $1 ORDER BY coord_key COLLATE "C"`),
	}
}

// recordScan holds the destinations of one record row.
type recordScan struct {
	key       string
	coord     []float64
	memType   string
	payload   []byte
	imp       *float64
	norm      float64
	created   time.Time
	updated   time.Time
	version   int64
	lastEvent uuid.UUID
}

func (r *recordScan) dest() []any {
	return []any{&r.key, &r.coord, &r.memType, &r.payload, &r.imp, &r.norm, &r.created, &r.updated, &r.version, &r.lastEvent}
}

// memory builds the domain memory of the row, as the projection's Get
// does.
func (r *recordScan) memory(ns string) (domain.Memory, error) {
	c, err := domain.NewCoordinate(r.coord)
	if err != nil {
		return domain.Memory{}, fmt.Errorf("record %s: stored coordinate: %w", r.key, err)
	}
	payload, err := decodePayload(r.payload)
	if err != nil {
		return domain.Memory{}, fmt.Errorf("record %s: stored payload: %w", r.key, err)
	}
	m := domain.Memory{
		Namespace:      ns,
		Coordinate:     c,
		Type:           domain.MemoryType(r.memType),
		Payload:        payload,
		ImportanceNorm: r.norm,
		StoredAt:       r.created.UTC(),
		UpdatedAt:      r.updated.UTC(),
		Version:        r.version,
		LastEventID:    r.lastEvent.String(),
	}
	if r.imp != nil {
		v := *r.imp
		m.Importance = &v
	}
	return m, nil
}

// decodePayload decodes a stored payload as domain.MemoryFromStored does:
// a JSON object, numbers kept as json.Number.
func decodePayload(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	if out == nil {
		return nil, errors.New("not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the object")
	}
	return out, nil
}

// classify wraps err with queries.ErrUnavailable when the server could
// not be reached, refused the connection or did not answer in time.
func classify(err error) error {
	if err == nil || errors.Is(err, queries.ErrUnavailable) {
		return err
	}
	var (
		connErr *pgconn.ConnectError
		netErr  net.Error
		pgErr   *pgconn.PgError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err),
		errors.As(err, &connErr), errors.As(err, &netErr), errors.Is(err, io.ErrUnexpectedEOF):
	case errors.As(err, &pgErr) && unavailableCode(pgErr.Code):
	default:
		return err
	}
	return fmt.Errorf("%w: %w", queries.ErrUnavailable, err)
}

// unavailableCode: connection exceptions (class 08), the server shutting
// down or starting (57P01–57P03) and too many connections (53300).
func unavailableCode(code string) bool {
	return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03" || code == "53300"
}

// readErr wraps err with what was being read, classified.
func (s *Store) readErr(what string, err error) error {
	return fmt.Errorf("postgres %s %s: %w", s.schema, what, classify(err))
}
