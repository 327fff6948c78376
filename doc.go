// Package soma is the Go API of SomaFractalMemory, a memory service for AI
// agents: memories (a JSON payload at a coordinate, episodic or semantic,
// with an importance) linked into a directed weighted graph, recalled by
// similarity, by coordinate range or by walking the graph.
//
// The Memory interface is what a program uses. *Client implements it over
// the service's two HTTP APIs (the write API and the query API); errors
// match the sentinels ErrInvalid, ErrNotFound, ErrConflict,
// ErrUnauthorized, ErrRateLimited and ErrUnavailable.
//
// A Client keeps read-your-writes: it merges the consistency token of
// every write it made and sends it with each read, so a recall right after
// a store sees the stored memory.
package soma
