package embedded

import (
	"context"
	"database/sql"
	"fmt"
)

// schemaVersion is PRAGMA user_version of a data dir created by this
// code. A file of a newer version is refused; an older one would be
// migrated here.
const schemaVersion = 2

// schemaV1 creates the tables. Times are RFC 3339 text in UTC with nine
// fractional digits (so text order is time order); coordinates are also kept as little-endian float64 BLOBs
// (records.coordinate) and their first value as c0 (NULL for the empty
// coordinate) for range scans; vectors are little-endian float32 BLOBs.
const schemaV1 = `
-- Settings of the data dir: the vector index's model and dimension.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Every applied event in application order: the log itself in direct-write
-- mode (source 'event_log', partition 0, offset = seq), the history
-- otherwise.
CREATE TABLE event_log (
    seq         INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    partition   INTEGER NOT NULL,
    "offset"    INTEGER NOT NULL,
    event_id    TEXT    NOT NULL UNIQUE,
    event_type  TEXT    NOT NULL,
    namespace   TEXT    NOT NULL,
    coord_key   TEXT    NOT NULL,
    occurred_at TEXT    NOT NULL,
    body        BLOB    NOT NULL
);
CREATE INDEX event_log_subject_idx ON event_log (namespace, coord_key, seq);

-- One row per memory. payload is the client payload as stored (system
-- fields are added when records are read); version counts the events
-- applied since the memory was first stored.
CREATE TABLE records (
    namespace       TEXT    NOT NULL,
    coord_key       TEXT    NOT NULL,
    coordinate      BLOB    NOT NULL,
    c0              REAL    NULL,
    memory_type     TEXT    NOT NULL CHECK (memory_type IN ('episodic', 'semantic')),
    payload         TEXT    NOT NULL,
    importance      REAL    NULL,
    importance_norm REAL    NOT NULL,
    embedding_model TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    last_event_id   TEXT    NOT NULL,
    PRIMARY KEY (namespace, coord_key)
) WITHOUT ROWID;
CREATE INDEX records_range_idx ON records (namespace, c0);

-- The embedding of every memory that has one, of any model, with what the
-- vector index keeps beside it (type, importance, filterable payload fields),
-- so that the index loads without reading records.
CREATE TABLE vectors (
    namespace       TEXT    NOT NULL,
    coord_key       TEXT    NOT NULL,
    model           TEXT    NOT NULL,
    memory_type     TEXT    NOT NULL,
    importance_norm REAL    NOT NULL,
    fields          BLOB    NOT NULL,
    embedding       BLOB    NOT NULL,
    PRIMARY KEY (namespace, coord_key)
);

-- Directed edges, one per ordered pair. seq (the rowid) is the insertion
-- order: a re-link updates the row in place and keeps it.
CREATE TABLE links (
    seq        INTEGER PRIMARY KEY,
    namespace  TEXT    NOT NULL,
    from_key   TEXT    NOT NULL,
    to_key     TEXT    NOT NULL,
    link_type  TEXT    NOT NULL,
    weight     REAL    NOT NULL,
    created_at TEXT    NOT NULL,
    UNIQUE (namespace, from_key, to_key)
);
CREATE INDEX links_from_idx ON links (namespace, from_key, seq);
CREATE INDEX links_to_idx ON links (namespace, to_key);

-- When memories were last deleted. A delete removes the incoming edges
-- created at or before it, and a link to a coordinate is ignored when the
-- coordinate was deleted at or after the link's time: a link and a delete
-- of its target travel in different partitions, so comparing event times
-- instead of arrival order makes every interleaving reach the same graph
-- (the rule of the Postgres read model).
CREATE TABLE tombstones (
    namespace  TEXT NOT NULL,
    coord_key  TEXT NOT NULL,
    deleted_at TEXT NOT NULL,
    PRIMARY KEY (namespace, coord_key)
) WITHOUT ROWID;

-- Applied position per log partition, written in the transaction of the
-- rows it covers.
CREATE TABLE checkpoints (
    source    TEXT    NOT NULL,
    partition INTEGER NOT NULL,
    "offset"  INTEGER NOT NULL,
    PRIMARY KEY (source, partition)
) WITHOUT ROWID;

-- Memory counts per namespace, so that stats are one row.
CREATE TABLE namespace_counts (
    namespace TEXT    PRIMARY KEY,
    total     INTEGER NOT NULL DEFAULT 0,
    episodic  INTEGER NOT NULL DEFAULT 0,
    semantic  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
`

// Keys of the meta table.
const (
	metaIndexModel = "index_model"
	metaIndexDim   = "index_dim"
)

// schemaV2 upgrades a version 1 file (idempotent).
const schemaV2 = `
CREATE TABLE IF NOT EXISTS tombstones (
    namespace  TEXT NOT NULL,
    coord_key  TEXT NOT NULL,
    deleted_at TEXT NOT NULL,
    PRIMARY KEY (namespace, coord_key)
) WITHOUT ROWID;
`

// migrate creates the schema of a new file, upgrades files of an older
// version and refuses files of a newer one.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	switch {
	case v == schemaVersion:
		return nil
	case v > schemaVersion:
		return fmt.Errorf("data file has schema version %d, this binary knows up to %d", v, schemaVersion)
	}
	if v == 0 {
		if _, err := tx.ExecContext(ctx, schemaV1); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	// Version 2: the tombstones table. Files of version 1 made before it
	// existed lack it; later ones have it already.
	if _, err := tx.ExecContext(ctx, schemaV2); err != nil {
		return fmt.Errorf("migrate schema to version 2: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return err
	}
	return tx.Commit()
}
