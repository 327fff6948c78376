// Package bench is the load harness behind `soma bench`: deterministic,
// seeded workloads driven against a running SomaFractalMemory over HTTP,
// exactly as any client would talk to it.
//
// Four runs are offered:
//
//   - Ingest stores N memories through /store_bulk (batches) or /store and
//     reports memories/s, requests/s and latency percentiles; every
//     response is checked (status 200, `stored` equal to the batch size or
//     `ok` true) and failures are counted by route and status.
//   - Recall optionally loads N memories, then runs recall queries drawn
//     from the same vocabulary at a concurrency and checks every answer
//     (200, a `matches` array of at most top_k records).
//   - E2E stores one memory at a time at a target rate, reads it back from
//     the query API with the consistency token and measures write→visible
//     latency; a 404 or a record other than the one written is a miss.
//     Without the token it counts how many reads miss (the eventual-
//     consistency window).
//   - Replay runs a `soma replay` command line as a child process and
//     times it.
//
// Every run is bounded in count and in time and stops by itself; each
// request carries a timeout. Targets must be loopback addresses unless the
// caller allows remote ones, so a benchmark is never pointed at a shared
// deployment by accident.
//
// Workloads are a pure function of (seed, index): the same seed gives the
// same memories and queries whatever the concurrency, for a given build
// of the harness.
package bench
