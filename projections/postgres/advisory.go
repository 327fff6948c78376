package postgres

import "hash/fnv"

// advisoryKey derives a PostgreSQL advisory lock key from parts: the
// 64-bit FNV-1a hash of the parts joined by NUL bytes, its bits read as
// the signed bigint that pg_advisory_lock takes.
func advisoryKey(parts ...string) int64 {
	h := fnv.New64a()
	for i, p := range parts {
		if i > 0 {
			_, _ = h.Write([]byte{0}) // a hash.Hash never returns a write error
		}
		_, _ = h.Write([]byte(p))
	}
	return int64(h.Sum64()) // #nosec G115 -- the hash's 64 bits reinterpreted as a signed key; wrapping is intended
}
