package postgres

import (
	"strings"

	"github.com/jackc/pgx/v5"
)

// statements holds the SQL of one schema. Table names are qualified with
// the (validated, quoted) schema, so a Projection never depends on the
// connection's search_path.
type statements struct {
	lockCheckpointsInsert string
	lockCheckpointsSelect string
	updateCheckpoints     string
	positions             string
	knownEventIDs         string
	loadRecords           string
	deleteRecords         string
	upsertRecords         string
	updateImportance      string
	wipeEdgesFrom         string
	wipeEdgesTo           string
	upsertTombstones      string
	lockGraphKeys         string
	loadTombstones        string
	deleteEdges           string
	upsertEdges           string
	updateCounts          string
	advanceLogSeq         string
	nextLogSeqs           string
	notify                string

	getRecord  string
	neighbors  string
	counts     string
	exists     string
	history    string
	logEvents  string
	eventLogID pgx.Identifier
}

func newStatements(schema string) statements {
	s := pgx.Identifier{schema}.Sanitize()
	r := strings.NewReplacer(
		"{records}", s+".records",
		"{links}", s+".links",
		"{tombstones}", s+".tombstones",
		"{checkpoints}", s+".checkpoints",
		"{event_log}", s+".event_log",
		"{event_log_seq}", s+".event_log_seq_seq",
		"{namespace_counts}", s+".namespace_counts",
	)
	return statements{
		eventLogID: pgx.Identifier{schema, "event_log"},

		// A partition seen for the first time gets a row at -1, so that
		// concurrent first batches of one partition serialise on it too.
		lockCheckpointsInsert: r.Replace(`
INSERT INTO {checkpoints} (source, partition, "offset", updated_at)
SELECT s, p, -1, now() FROM unnest($1::text[], $2::int4[]) AS x(s, p)
ORDER BY s, p
ON CONFLICT (source, partition) DO NOTHING`),
		lockCheckpointsSelect: r.Replace(`
SELECT c.source, c.partition, c."offset"
FROM {checkpoints} c JOIN unnest($1::text[], $2::int4[]) AS x(s, p) ON c.source = x.s AND c.partition = x.p
ORDER BY c.source, c.partition
FOR UPDATE OF c`),
		updateCheckpoints: r.Replace(`
UPDATE {checkpoints} c SET "offset" = x.o, updated_at = now()
FROM unnest($1::text[], $2::int4[], $3::int8[]) AS x(s, p, o)
WHERE c.source = x.s AND c.partition = x.p`),
		positions: r.Replace(`
SELECT partition, "offset" FROM {checkpoints} WHERE source = $1 AND "offset" >= 0`),
		knownEventIDs: r.Replace(`
SELECT event_id FROM {event_log} WHERE event_id = ANY($1::uuid[])`),
		loadRecords: r.Replace(`
SELECT r.namespace, r.coord_key, r.memory_type, r.version
FROM {records} r JOIN unnest($1::text[], $2::text[]) AS x(ns, k) ON r.namespace = x.ns AND r.coord_key = x.k`),
		deleteRecords: r.Replace(`
DELETE FROM {records} r USING unnest($1::text[], $2::text[]) AS x(ns, k)
WHERE r.namespace = x.ns AND r.coord_key = x.k`),
		// The coordinate array is rebuilt from the canonical key: the key
		// is the shortest decimal form of each float64, which float8 input
		// reads back exactly.
		upsertRecords: r.Replace(`
INSERT INTO {records} AS r (namespace, coord_key, coordinate, memory_type, payload, importance, importance_norm,
    embedding_model, created_at, updated_at, version, last_event_id)
SELECT ns, k, ('{' || k || '}')::float8[], t, p::jsonb, imp, norm, m, c, u, v, e
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::text[],
    $8::timestamptz[], $9::timestamptz[], $10::int8[], $11::uuid[]) AS x(ns, k, t, p, imp, norm, m, c, u, v, e)
ON CONFLICT (namespace, coord_key) DO UPDATE SET
    coordinate = excluded.coordinate, memory_type = excluded.memory_type, payload = excluded.payload,
    importance = excluded.importance, importance_norm = excluded.importance_norm,
    embedding_model = excluded.embedding_model, created_at = excluded.created_at,
    updated_at = excluded.updated_at, version = excluded.version, last_event_id = excluded.last_event_id`),
		updateImportance: r.Replace(`
UPDATE {records} r SET importance = x.imp, importance_norm = x.norm,
    payload = jsonb_set(r.payload, '{importance}', to_jsonb(x.imp)),
    version = x.v, updated_at = x.u, last_event_id = x.e
FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[], $5::int8[], $6::timestamptz[], $7::uuid[])
    AS x(ns, k, imp, norm, v, u, e)
WHERE r.namespace = x.ns AND r.coord_key = x.k`),
		wipeEdgesFrom: r.Replace(`
DELETE FROM {links} l USING unnest($1::text[], $2::text[]) AS x(ns, k)
WHERE l.namespace = x.ns AND l.from_key = x.k`),
		wipeEdgesTo: r.Replace(`
DELETE FROM {links} l USING unnest($1::text[], $2::text[], $3::timestamptz[]) AS x(ns, k, td)
WHERE l.namespace = x.ns AND l.to_key = x.k AND l.from_key <> x.k AND l.created_at <= x.td`),
		// Evaluated row by row in array order (sorted by the caller), so
		// every transaction takes its locks in the same order.
		lockGraphKeys: `
SELECT CASE WHEN x.excl THEN pg_advisory_xact_lock(x.k)::text ELSE pg_advisory_xact_lock_shared(x.k)::text END
FROM unnest($1::int8[], $2::bool[]) WITH ORDINALITY AS x(k, excl, ord)`,
		upsertTombstones: r.Replace(`
INSERT INTO {tombstones} AS t (namespace, coord_key, deleted_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
ON CONFLICT (namespace, coord_key) DO UPDATE SET deleted_at = GREATEST(t.deleted_at, excluded.deleted_at)`),
		loadTombstones: r.Replace(`
SELECT t.namespace, t.coord_key, t.deleted_at FROM {tombstones} t
JOIN unnest($1::text[], $2::text[]) AS x(ns, k) ON t.namespace = x.ns AND t.coord_key = x.k`),
		deleteEdges: r.Replace(`
DELETE FROM {links} l USING unnest($1::text[], $2::text[], $3::text[]) AS x(ns, f, t)
WHERE l.namespace = x.ns AND l.from_key = x.f AND l.to_key = x.t`),
		// New edges take seq from the table's sequence in the order of the
		// input (ORDER BY ord); an edge that already exists keeps its seq.
		upsertEdges: r.Replace(`
INSERT INTO {links} AS l (namespace, from_key, to_key, from_coord, to_coord, link_type, weight, created_at)
SELECT ns, f, t, ('{' || f || '}')::float8[], ('{' || t || '}')::float8[], lt, w, c
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::timestamptz[])
    WITH ORDINALITY AS x(ns, f, t, lt, w, c, ord)
ORDER BY ord
ON CONFLICT (namespace, from_key, to_key) DO UPDATE SET
    link_type = excluded.link_type, weight = excluded.weight, created_at = excluded.created_at`),
		updateCounts: r.Replace(`
INSERT INTO {namespace_counts} AS n (namespace, total, episodic, semantic)
SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[]) AS x(ns, t, e, s) ORDER BY ns
ON CONFLICT (namespace) DO UPDATE SET
    total = n.total + excluded.total, episodic = n.episodic + excluded.episodic, semantic = n.semantic + excluded.semantic`),
		// After copying event_log rows with explicit seq values (a replay of
		// a direct-mode log), move the sequence past them.
		advanceLogSeq: r.Replace(`
SELECT setval('{event_log_seq}', greatest((SELECT max(seq) FROM {event_log}), (SELECT last_value FROM {event_log_seq})))`),
		nextLogSeqs: r.Replace(`
SELECT nextval('{event_log_seq}') FROM generate_series(1, $1)`),
		notify: `SELECT pg_notify($1, $2)`,

		getRecord: r.Replace(`
SELECT coordinate, memory_type, payload, importance, importance_norm, embedding_model, created_at, updated_at,
    version, last_event_id
FROM {records} WHERE namespace = $1 AND coord_key = $2`),
		neighbors: r.Replace(`
SELECT to_coord, link_type, weight, created_at FROM {links}
WHERE namespace = $1 AND from_key = $2 AND ($3 = '' OR link_type = $3)
ORDER BY seq LIMIT $4`),
		counts: r.Replace(`
SELECT total, episodic, semantic FROM {namespace_counts} WHERE namespace = $1`),
		exists: r.Replace(`
SELECT coord_key FROM {records} WHERE namespace = $1 AND coord_key = ANY($2::text[])`),
		history: r.Replace(`
SELECT seq, source, partition, "offset", event_id, event_type, occurred_at, body FROM (
    SELECT * FROM {event_log} WHERE namespace = $1 AND coord_key = $2 ORDER BY seq DESC LIMIT $3
) h ORDER BY seq`),
		logEvents: r.Replace(`
SELECT seq, body FROM {event_log} WHERE source = $1 AND seq > $2 ORDER BY seq LIMIT $3`),
	}
}
