-- Read model of the memory service. Tables are created unqualified: Migrate
-- runs every migration with search_path set to the target schema, so one
-- migration set serves the serving schema and any replay generation.

-- +goose Up

-- One row per memory (namespace, canonical coordinate key). payload is the
-- client payload as stored in the MemoryStored event (system fields are
-- added when records are read). version counts the events applied to the
-- memory since it was last created.
CREATE TABLE records (
    namespace       text        NOT NULL,
    coord_key       text        NOT NULL,
    coordinate      float8[]    NOT NULL,
    memory_type     text        NOT NULL CHECK (memory_type IN ('episodic', 'semantic')),
    payload         jsonb       NOT NULL,
    importance      float8      NULL,
    importance_norm float8      NOT NULL,
    embedding_model text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    version         bigint      NOT NULL,
    last_event_id   uuid        NOT NULL,
    PRIMARY KEY (namespace, coord_key)
);
-- Range queries.
CREATE INDEX records_namespace_coordinate_idx ON records (namespace, coordinate);
-- Eviction: lowest importance, then oldest.
CREATE INDEX records_namespace_eviction_idx ON records (namespace, importance_norm, created_at);

-- Directed edges, one per ordered pair. seq is the insertion order; a
-- re-link keeps it and replaces link_type, weight and created_at.
CREATE TABLE links (
    namespace  text        NOT NULL,
    from_key   text        NOT NULL,
    to_key     text        NOT NULL,
    from_coord float8[]    NOT NULL,
    to_coord   float8[]    NOT NULL,
    link_type  text        NOT NULL,
    weight     float8      NOT NULL,
    created_at timestamptz NOT NULL,
    seq        bigserial   NOT NULL,
    PRIMARY KEY (namespace, from_key, to_key)
);
-- Deleting a memory removes its incoming edges.
CREATE INDEX links_namespace_to_key_idx ON links (namespace, to_key);

-- Applied position per log partition, written in the same transaction as
-- the rows it covers. An offset of -1 is a row created by a transaction in
-- progress (it never survives a commit).
CREATE TABLE checkpoints (
    source     text        NOT NULL,
    partition  int         NOT NULL,
    "offset"   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, partition)
);

-- Every applied event, in application order: the history shown by
-- /history, and the log itself in direct-write mode (source 'event_log',
-- offset = seq).
CREATE TABLE event_log (
    seq         bigserial   PRIMARY KEY,
    source      text        NOT NULL,
    partition   int         NOT NULL,
    "offset"    bigint      NOT NULL,
    event_id    uuid        NOT NULL UNIQUE,
    event_type  text        NOT NULL,
    namespace   text        NOT NULL,
    coord_key   text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    body        bytea       NOT NULL
);
CREATE INDEX event_log_namespace_coord_key_idx ON event_log (namespace, coord_key, seq);

-- Memory counts per namespace, maintained by the projection so that stats
-- are O(1).
CREATE TABLE namespace_counts (
    namespace text   PRIMARY KEY,
    total     bigint NOT NULL DEFAULT 0,
    episodic  bigint NOT NULL DEFAULT 0,
    semantic  bigint NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE namespace_counts;
DROP TABLE event_log;
DROP TABLE checkpoints;
DROP TABLE links;
DROP TABLE records;
