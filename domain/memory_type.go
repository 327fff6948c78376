package domain

import (
	"errors"
	"fmt"
)

// MemoryType is episodic or semantic. Its string values are stored in every
// read model and on the log.
type MemoryType string

const (
	Episodic MemoryType = "episodic"
	Semantic MemoryType = "semantic"
)

// ErrInvalidMemoryType is returned for a type filter that names neither type.
var ErrInvalidMemoryType = errors.New("invalid memory type")

// MemoryTypeForStore maps the request's type on store: "semantic" is
// semantic, anything else (including empty) is episodic.
func MemoryTypeForStore(s string) MemoryType {
	if s == string(Semantic) {
		return Semantic
	}
	return Episodic
}

// MemoryTypeFilter maps the request's type on recall and range: empty means
// no filter (ok=false); "episodic" and "semantic" filter; anything else is
// an error wrapping ErrInvalidMemoryType.
func MemoryTypeFilter(s string) (t MemoryType, ok bool, err error) {
	switch s {
	case "":
		return "", false, nil
	case string(Episodic):
		return Episodic, true, nil
	case string(Semantic):
		return Semantic, true, nil
	}
	return "", false, fmt.Errorf("%w %q: want %q or %q", ErrInvalidMemoryType, s, Episodic, Semantic)
}
