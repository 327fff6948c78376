// Package config reads the service configuration from environment-style
// variables into validated structs. It never calls os.Getenv itself: cmd/
// passes a lookup function (os.LookupEnv), so tests can pass a map.
//
// Every variable the binary reads is declared in Variables with its default
// and meaning; .env.example is checked against that list by a test.
package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Lookup is os.LookupEnv or a test stand-in.
type Lookup func(name string) (string, bool)

// MapLookup adapts a map for tests.
func MapLookup(m map[string]string) Lookup {
	return func(name string) (string, bool) { v, ok := m[name]; return v, ok }
}

// reader reads declared variables and collects every problem.
type reader struct {
	lookup Lookup
	errs   []error
	seen   map[string]bool // names read, for the .env.example test
}

func (r *reader) raw(name string) (string, bool) {
	if _, ok := declared[name]; !ok {
		panic("config: variable " + name + " is read but not declared in Variables")
	}
	if r.seen != nil {
		r.seen[name] = true
	}
	v, ok := r.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (r *reader) str(name string) string {
	if v, ok := r.raw(name); ok {
		return v
	}
	return declared[name].Default
}

func (r *reader) set(name string) bool {
	_, ok := r.raw(name)
	return ok
}

func (r *reader) integer(name string) int {
	s := r.str(name)
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: not an integer", name, s))
	}
	return n
}

// integer32 reads an integer that must fit an int32 (a Kafka partition count).
func (r *reader) integer32(name string) int32 {
	n := r.integer(name)
	if n < math.MinInt32 || n > math.MaxInt32 {
		r.errs = append(r.errs, fmt.Errorf("%s=%d: out of range (at most %d)", name, n, math.MaxInt32))
		return 0
	}
	return int32(n)
}

// integer16 reads an integer that must fit an int16 (a replication factor).
func (r *reader) integer16(name string) int16 {
	n := r.integer(name)
	if n < math.MinInt16 || n > math.MaxInt16 {
		r.errs = append(r.errs, fmt.Errorf("%s=%d: out of range (at most %d)", name, n, math.MaxInt16))
		return 0
	}
	return int16(n)
}

func (r *reader) boolean(name string) bool {
	s := strings.ToLower(r.str(name))
	switch s {
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off", "":
		return false
	}
	r.errs = append(r.errs, fmt.Errorf("%s=%q: not a boolean (true/false)", name, s))
	return false
}

// duration accepts Go durations ("250ms", "5s") and plain numbers of seconds.
func (r *reader) duration(name string) time.Duration {
	s := r.str(name)
	if s == "" {
		return 0
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second))
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: not a duration (e.g. 5s, 250ms, or seconds)", name, s))
	}
	return d
}

func (r *reader) list(name string) []string {
	var out []string
	for _, p := range strings.Split(r.str(name), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
