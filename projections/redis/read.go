package redis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/somafractalmemory/soma/domain"
)

// Reader reads one generation of the read model. It is safe for
// concurrent use and sees what Apply committed (each script call is
// atomic).
type Reader struct {
	client goredis.UniversalClient
	keys   Keys
}

// NewReader reads generation under prefix (not validated: see
// ValidatePrefix and ValidateGeneration).
func NewReader(client goredis.UniversalClient, prefix, generation string) *Reader {
	return &Reader{client: client, keys: NewKeys(prefix, generation)}
}

// Keys is the key layout read.
func (r *Reader) Keys() Keys { return r.keys }

// Record returns the memory at coord in namespace ns; ok is false when
// there is none.
func (r *Reader) Record(ctx context.Context, ns string, coord domain.Coordinate) (m domain.Memory, ok bool, err error) {
	key := coord.Key()
	vals, err := r.client.HMGet(ctx, r.keys.Record(ns, key), recordFields[:]...).Result()
	if err != nil {
		return domain.Memory{}, false, fmt.Errorf("redis record %s/%s: %w", ns, key, err)
	}
	m, ok, err = decodeRecord(vals)
	if err != nil {
		return domain.Memory{}, false, fmt.Errorf("redis record %s/%s: %w", ns, key, err)
	}
	return m, ok, nil
}

// Records returns the memories at coordKeys (domain.Coordinate.Key()) of
// namespace ns, keyed by coordinate key; missing keys are absent. All keys
// are read in one pipelined round trip.
func (r *Reader) Records(ctx context.Context, ns string, coordKeys []string) (map[string]domain.Memory, error) {
	out := make(map[string]domain.Memory, len(coordKeys))
	if len(coordKeys) == 0 {
		return out, nil
	}
	cmds := make([]*goredis.SliceCmd, len(coordKeys))
	_, err := r.client.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for i, k := range coordKeys {
			cmds[i] = pipe.HMGet(ctx, r.keys.Record(ns, k), recordFields[:]...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis records of %s (%d keys): %w", ns, len(coordKeys), err)
	}
	for i, cmd := range cmds {
		m, ok, err := decodeRecord(cmd.Val())
		if err != nil {
			return nil, fmt.Errorf("redis record %s/%s: %w", ns, coordKeys[i], err)
		}
		if ok {
			out[coordKeys[i]] = m
		}
	}
	return out, nil
}

// Counts returns the counters of namespace ns (zero for an unknown one).
func (r *Reader) Counts(ctx context.Context, ns string) (total, episodic, semantic int64, err error) {
	vals, err := r.client.HMGet(ctx, r.keys.Counts(ns), CountTotal, CountEpisodic, CountSemantic).Result()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("redis counts of %s: %w", ns, err)
	}
	var n [3]int64
	for i, v := range vals {
		if v == nil {
			continue
		}
		s, _ := v.(string)
		if n[i], err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, 0, 0, fmt.Errorf("redis counts of %s: stored %v: %w", ns, v, err)
		}
	}
	return n[0], n[1], n[2], nil
}

// Positions returns the applied offset of every partition of source
// (absent partition: nothing applied yet).
func (r *Reader) Positions(ctx context.Context, source string) (map[int32]int64, error) {
	vals, err := r.client.HGetAll(ctx, r.keys.Positions(source)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis positions of %s: %w", source, err)
	}
	out := make(map[int32]int64, len(vals))
	for k, v := range vals {
		part, err := strconv.ParseInt(k, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("redis positions of %s: stored partition %q: %w", source, k, err)
		}
		off, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redis positions of %s: stored offset %q: %w", source, v, err)
		}
		out[int32(part)] = off
	}
	return out, nil
}

// errCorrupt wraps the errors of a record hash that cannot be read back.
var errCorrupt = errors.New("stored record is malformed")

// decodeRecord builds the memory from the HMGET values of recordFields;
// ok is false when the record does not exist.
func decodeRecord(vals []any) (m domain.Memory, ok bool, err error) {
	if len(vals) != len(recordFields) {
		return domain.Memory{}, false, fmt.Errorf("%w: %d fields, want %d", errCorrupt, len(vals), len(recordFields))
	}
	var s [len(recordFields)]string
	var present [len(recordFields)]bool
	for i, v := range vals {
		s[i], present[i] = v.(string)
	}
	const (
		ns = iota
		coord
		typ
		payload
		imp
		norm
		storedAt
		updatedAt
		version
		lastEvent
		payloadImp
	)
	if !present[typ] {
		return domain.Memory{}, false, nil
	}
	for _, i := range []int{ns, coord, payload, norm, storedAt, updatedAt, version, lastEvent} {
		if !present[i] {
			return domain.Memory{}, false, fmt.Errorf("%w: field %s missing", errCorrupt, recordFields[i])
		}
	}
	field := func(i int, err error) error {
		return fmt.Errorf("%w: field %s %q: %w", errCorrupt, recordFields[i], s[i], err)
	}
	m = domain.Memory{Namespace: s[ns], Type: domain.MemoryType(s[typ]), LastEventID: s[lastEvent]}
	if m.Coordinate, err = domain.ParseCoordinate(s[coord]); err != nil {
		return domain.Memory{}, false, field(coord, err)
	}
	if m.Payload, err = decodePayload(s[payload]); err != nil {
		return domain.Memory{}, false, field(payload, err)
	}
	if present[imp] {
		f, err := strconv.ParseFloat(s[imp], 64)
		if err != nil {
			return domain.Memory{}, false, field(imp, err)
		}
		m.Importance = &f
	}
	if m.ImportanceNorm, err = strconv.ParseFloat(s[norm], 64); err != nil {
		return domain.Memory{}, false, field(norm, err)
	}
	if m.StoredAt, err = parseTime(s[storedAt]); err != nil {
		return domain.Memory{}, false, field(storedAt, err)
	}
	if m.UpdatedAt, err = parseTime(s[updatedAt]); err != nil {
		return domain.Memory{}, false, field(updatedAt, err)
	}
	if m.Version, err = strconv.ParseInt(s[version], 10, 64); err != nil {
		return domain.Memory{}, false, field(version, err)
	}
	if present[payloadImp] {
		f, err := strconv.ParseFloat(s[payloadImp], 64)
		if err != nil {
			return domain.Memory{}, false, field(payloadImp, err)
		}
		m.Payload[domain.PayloadKeyImportance] = f
	}
	return m, true, nil
}

// decodePayload decodes a stored payload as domain.MemoryFromStored does:
// one JSON object, numbers as json.Number.
func decodePayload(s string) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var p map[string]any
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errors.New("not a JSON object")
	}
	return p, nil
}
