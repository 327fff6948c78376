// Package qdrantfake is an in-process Qdrant: a gRPC server over the
// upstream proto (github.com/qdrant/go-client) that keeps collections in
// memory, so the Qdrant projection and the recall adapter can be tested
// with the real client and without a Qdrant server.
//
// It implements the calls this project makes, with Qdrant's semantics
// (checked by tests that also run against a real Qdrant when
// SOMA_TEST_QDRANT_URL is set):
//
//   - Collections: Create (one unnamed dense vector, Cosine or Dot; an
//     existing collection or alias of that name is an error), Get (config,
//     payload schema, points count), List, Delete (also drops the aliases of
//     the collection; deleting a missing collection reports result=false),
//     CollectionExists (true for aliases too), UpdateAliases (create,
//     delete, rename, applied in order; create overwrites an existing alias
//     and requires the target to be a collection), ListAliases,
//     ListCollectionAliases. Every point operation accepts an alias in
//     place of the collection name.
//   - Points: Upsert (whole point replaced; the request is validated before
//     anything is written), Delete (by ids or by filter), Get (request
//     order, missing ids skipped), SetPayload and OverwritePayload (by ids —
//     a missing id is an error — or by filter), CreateFieldIndex and
//     DeleteFieldIndex (recorded in the payload schema only), Count, Scroll
//     (id order, inclusive offset, next_page_offset), Query (nearest to a
//     dense vector, or id order without a query) and Search. Searches are
//     exact: the filter is applied before the limit, offset and
//     score_threshold (score >= threshold) as in Qdrant.
//   - Vectors of a Cosine collection are normalised on insert (a zero
//     vector is stored as is), as Qdrant does, so stored vectors read back
//     normalised and the score of a query is the dot product of the
//     normalised vectors. Ties are broken by point id.
//   - Point ids: unsigned integers or UUIDs (any form Qdrant parses, read
//     back hyphenated lower case); integers sort before UUIDs.
//   - Filters: must, should, must_not, min_should, nested Filter
//     conditions; FieldCondition with match (keyword, integer, boolean,
//     keywords/integers "any", except keywords/integers) and range
//     (gt/gte/lt/lte); is_empty; is_null; has_id. Keys are Qdrant JSON paths
//     ("payload.kind", "a[].b", "a[0]", `payload."dotted.key"`). An array
//     value matches when any element matches. match integer matches only
//     integer values (a stored 3.0 is a double and does not match 3), range
//     compares integers and doubles numerically.
//   - with_payload absent means no payload (include/exclude select
//     top-level keys); with_vectors absent means no vectors (callers of this
//     project always set both). A limit of 0 is refused, as in Qdrant.
//
// Anything else answers codes.Unimplemented, so a test never passes on a
// call the double only pretends to support.
package qdrantfake
