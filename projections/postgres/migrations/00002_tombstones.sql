-- When memories were last deleted. A delete removes the incoming edges
-- created at or before it, and a link to a coordinate is ignored when the
-- coordinate was deleted at or after the link's time. Links and deletes of
-- the target live in different partitions, so their relative order on the
-- log is not defined; comparing event times instead makes every replay,
-- whatever the interleaving of partitions, reach the same graph.

-- +goose Up
CREATE TABLE tombstones (
    namespace  text        NOT NULL,
    coord_key  text        NOT NULL,
    deleted_at timestamptz NOT NULL,
    PRIMARY KEY (namespace, coord_key)
);

-- +goose Down
DROP TABLE tombstones;
