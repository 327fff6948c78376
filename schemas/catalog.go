package schemas

import (
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/somafractalmemory/soma/domain"
)

// builtin holds the versioned schemas of every event:
// avro/<EventName>/v<N>.avsc. A version, once released, is never edited:
// an evolution is a new file.
//
//go:embed avro/*/*.avsc
var builtin embed.FS

// CatalogRoot is the directory, inside the file system given to
// NewCatalog, that holds avro/<EventName>/v<N>.avsc.
const CatalogRoot = "avro"

// Version is one released schema of one event.
type Version struct {
	// Event is the event name (a domain.Event* constant).
	Event string
	// FullName is the Avro record full name.
	FullName string
	// Number is the version number of the file (v1.avsc is 1).
	Number int
	// Text is the .avsc file as written; it is what gets registered.
	Text string
	// Schema is Text parsed with a private schema cache.
	Schema avro.Schema
	// Fingerprint is the hex SHA-256 of the Avro parsing canonical form
	// (docs and defaults excluded).
	Fingerprint string
}

// Catalog lists every event's schema versions, oldest first. The latest
// version of an event is its writer schema and the reader schema every
// decode resolves into. A Catalog is immutable and safe for concurrent use.
type Catalog struct {
	events   []string // sorted
	versions map[string][]Version
}

// ErrCatalog is wrapped by every error about the schema files themselves.
var ErrCatalog = errors.New("invalid schema catalog")

// BuiltinCatalog parses the schemas embedded in the binary.
// It fails if any domain event has no schema.
func BuiltinCatalog() (*Catalog, error) {
	c, err := NewCatalog(builtin)
	if err != nil {
		return nil, err
	}
	for _, e := range DomainEvents() {
		if !c.Has(e) {
			return nil, fmt.Errorf("%w: no schema for event %s", ErrCatalog, e)
		}
	}
	return c, nil
}

// NewCatalog parses avro/<EventName>/v<N>.avsc from fsys. Every directory
// must be a known event name, every file's record must have that event's
// full name, and versions must be numbered 1..N without gaps. Each file is
// parsed with its own avro.SchemaCache, so named types of one version never
// leak into another (or into hamba/avro's global cache). A catalog may hold
// a subset of the events (tests); BuiltinCatalog holds all of them.
func NewCatalog(fsys fs.FS) (*Catalog, error) {
	dirs, err := fs.ReadDir(fsys, CatalogRoot)
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %v", ErrCatalog, CatalogRoot, err)
	}
	c := &Catalog{versions: map[string][]Version{}}
	var errs []error
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		event := d.Name()
		fullName, ok := RecordName(event)
		if !ok {
			errs = append(errs, fmt.Errorf("%w: %s: not an event name", ErrCatalog, path.Join(CatalogRoot, event)))
			continue
		}
		vs, err := readVersions(fsys, event, fullName)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.events = append(c.events, event)
		c.versions[event] = vs
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(c.events) == 0 {
		return nil, fmt.Errorf("%w: no event schemas under %s", ErrCatalog, CatalogRoot)
	}
	sort.Strings(c.events)
	return c, nil
}

func readVersions(fsys fs.FS, event, fullName string) ([]Version, error) {
	dir := path.Join(CatalogRoot, event)
	files, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %v", ErrCatalog, dir, err)
	}
	byNum := map[int]Version{}
	var errs []error
	for _, f := range files {
		if f.IsDir() {
			continue
		}
		n, ok := versionNumber(f.Name())
		if !ok {
			errs = append(errs, fmt.Errorf("%w: %s: file name is not v<N>.avsc", ErrCatalog, path.Join(dir, f.Name())))
			continue
		}
		v, err := parseVersion(fsys, path.Join(dir, f.Name()), event, fullName, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		byNum[n] = v
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(byNum) == 0 {
		return nil, fmt.Errorf("%w: %s: no versions", ErrCatalog, dir)
	}
	vs := make([]Version, 0, len(byNum))
	for n := 1; n <= len(byNum); n++ {
		v, ok := byNum[n]
		if !ok {
			return nil, fmt.Errorf("%w: %s: versions must be v1..v%d without gaps, v%d is missing", ErrCatalog, dir, len(byNum), n)
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// versionNumber parses "v<N>.avsc" with N >= 1 and no leading zero.
func versionNumber(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, "v")
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, ".avsc")
	if !ok || digits == "" || digits[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 || strconv.Itoa(n) != digits {
		return 0, false
	}
	return n, true
}

func parseVersion(fsys fs.FS, file, event, fullName string, n int) (Version, error) {
	text, err := fs.ReadFile(fsys, file)
	if err != nil {
		return Version{}, fmt.Errorf("%w: read %s: %v", ErrCatalog, file, err)
	}
	s, err := parseSchema(string(text))
	if err != nil {
		return Version{}, fmt.Errorf("%w: %s: %v", ErrCatalog, file, err)
	}
	rec, ok := s.(*avro.RecordSchema)
	if !ok {
		return Version{}, fmt.Errorf("%w: %s: top-level type is %s, want record", ErrCatalog, file, s.Type())
	}
	if rec.FullName() != fullName {
		return Version{}, fmt.Errorf("%w: %s: record is %q, want %q", ErrCatalog, file, rec.FullName(), fullName)
	}
	return Version{
		Event:       event,
		FullName:    fullName,
		Number:      n,
		Text:        string(text),
		Schema:      s,
		Fingerprint: fingerprint(s),
	}, nil
}

// parseSchema parses with a private cache: hamba/avro's package-level
// cache would let a named type of one version (or of a test schema) stand
// in for another of the same name.
func parseSchema(text string) (avro.Schema, error) {
	return avro.ParseWithCache(text, "", &avro.SchemaCache{})
}

func fingerprint(s avro.Schema) string {
	fp := s.Fingerprint()
	return hex.EncodeToString(fp[:])
}

// Events returns the event names in the catalog, sorted.
func (c *Catalog) Events() []string {
	return append([]string(nil), c.events...)
}

// Versions returns the versions of event, oldest first (nil if unknown).
func (c *Catalog) Versions(event string) []Version {
	return append([]Version(nil), c.versions[event]...)
}

// Latest returns the latest version of event: the writer schema, and the
// reader schema every older version is resolved into.
func (c *Catalog) Latest(event string) (Version, bool) {
	vs := c.versions[event]
	if len(vs) == 0 {
		return Version{}, false
	}
	return vs[len(vs)-1], true
}

// Has reports whether every given event has schemas in the catalog.
func (c *Catalog) Has(events ...string) bool {
	for _, e := range events {
		if len(c.versions[e]) == 0 {
			return false
		}
	}
	return true
}

// DomainEvents lists every event name of the domain; BuiltinCatalog
// covers all of them.
func DomainEvents() []string {
	return []string{
		domain.EventMemoriesLinked,
		domain.EventMemoryDeleted,
		domain.EventMemoryImportanceSet,
		domain.EventMemoryStored,
		domain.EventMemoryUnlinked,
	}
}
