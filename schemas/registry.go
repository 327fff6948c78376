package schemas

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riferrei/srclient"
)

// DefaultRegistryTimeout bounds each HTTP request to the registry when the
// configuration does not say otherwise.
const DefaultRegistryTimeout = 10 * time.Second

// CompatibilityLevel is set on every subject we register: the log is
// replayed from offset 0 forever, so every new reader must read every old
// writer.
const CompatibilityLevel = srclient.BackwardTransitive

// Registry errors.
var (
	// ErrSchemaRejected: the registry refused a local schema (HTTP 409
	// incompatible, or 422 invalid). The error names the subject.
	ErrSchemaRejected = errors.New("schema rejected by the registry")
	// ErrNotRegistered: Resolve found no registered schema matching a
	// local latest version. The error names the subject.
	ErrNotRegistered = errors.New("schema not registered")
)

// RegistryConfig configures the registry client. The URL is the base of a
// Confluent-compatible API: Confluent Schema Registry itself, or Apicurio's
// compatibility layer (http://apicurio:8080/apis/ccompat/v7).
type RegistryConfig struct {
	URL string
	// Topic names the subjects (topic-record-name strategy); default
	// DefaultTopic.
	Topic string
	// Timeout bounds every HTTP request; default DefaultRegistryTimeout.
	Timeout time.Duration
	// AutoRegister makes Prepare register the local schemas (the writer
	// in development); otherwise Prepare only resolves their ids and fails
	// if they are missing (production, where `soma schemas register` runs
	// in the deploy pipeline).
	AutoRegister bool
	// Basic auth or bearer token, at most one.
	Username    string
	Password    string
	BearerToken string
}

// WithDefaults fills the zero fields that have a default.
func (c RegistryConfig) WithDefaults() RegistryConfig {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultRegistryTimeout
	}
	c.URL = strings.TrimRight(c.URL, "/")
	return c
}

// Validate reports every problem of the configuration at once.
func (c RegistryConfig) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("registry URL is empty"))
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("registry URL %q is not an http(s) URL", c.URL))
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("registry topic is empty"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("registry timeout %s must be positive", c.Timeout))
	}
	if (c.Username == "") != (c.Password == "") {
		errs = append(errs, errors.New("registry username and password must be given together"))
	}
	if c.Username != "" && c.BearerToken != "" {
		errs = append(errs, errors.New("registry basic auth and bearer token are exclusive"))
	}
	return errors.Join(errs...)
}

// RegistryClient talks to the schema registry for the schemas of a
// catalog: registration, id resolution, lookup by id, compatibility. It is
// safe for concurrent use.
//
// srclient's own caches are switched off (its cached "latest" would go
// stale when another deployment registers a newer version); ids of the
// local schemas are recorded by Register/Resolve, and the Codec caches
// what it fetches by id.
type RegistryClient struct {
	cfg     RegistryConfig
	catalog *Catalog
	client  *srclient.SchemaRegistryClient

	mu    sync.RWMutex
	known map[int]SchemaRef
}

// NewRegistryClient validates cfg (after WithDefaults) and returns a
// client. httpClient may be nil; either way the client used has a timeout
// no longer than cfg.Timeout (httpClient itself is not modified).
func NewRegistryClient(cfg RegistryConfig, catalog *Catalog, httpClient *http.Client) (*RegistryClient, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if catalog == nil {
		return nil, errors.New("schemas: NewRegistryClient needs a catalog")
	}
	hc := &http.Client{}
	if httpClient != nil {
		copied := *httpClient
		hc = &copied
	}
	if hc.Timeout <= 0 || hc.Timeout > cfg.Timeout {
		hc.Timeout = cfg.Timeout
	}
	client := srclient.NewSchemaRegistryClient(cfg.URL, srclient.WithClient(hc))
	client.CachingEnabled(false)
	client.CodecCreationEnabled(false)
	if cfg.Username != "" {
		client.SetCredentials(cfg.Username, cfg.Password)
	}
	if cfg.BearerToken != "" {
		client.SetBearerToken(cfg.BearerToken)
	}
	return &RegistryClient{cfg: cfg, catalog: catalog, client: client, known: map[int]SchemaRef{}}, nil
}

// Subject returns the registry subject of event.
func (r *RegistryClient) Subject(event string) string {
	full, _ := RecordName(event)
	return Subject(r.cfg.Topic, full)
}

// Prepare makes the local schemas' ids known before a Codec is built:
// Register when AutoRegister is set, Resolve otherwise.
func (r *RegistryClient) Prepare(ctx context.Context) error {
	if r.cfg.AutoRegister {
		_, err := r.Register(ctx)
		return err
	}
	_, err := r.Resolve(ctx)
	return err
}

// Register registers every version of every event, oldest first, under
// its subject, and sets BACKWARD_TRANSITIVE on each subject right after
// its first version (so the registry checks the later ones transitively).
// Registering is idempotent: a schema already registered keeps its id. A
// registry refusal (409 incompatible, 422 invalid) returns an error
// wrapping ErrSchemaRejected that names the subject and version.
func (r *RegistryClient) Register(ctx context.Context) ([]SchemaRef, error) {
	var refs []SchemaRef
	for _, event := range r.catalog.events {
		subject := r.Subject(event)
		for i, v := range r.catalog.versions[event] {
			s, err := call(ctx, func() (*srclient.Schema, error) {
				return r.client.CreateSchema(subject, v.Text, srclient.Avro)
			})
			if err != nil {
				return refs, r.classify(fmt.Sprintf("register %s v%d as subject %q", event, v.Number, subject), err, ErrSchemaRejected)
			}
			ref := SchemaRef{ID: s.ID(), Event: event, Version: v.Number}
			r.remember(ref)
			refs = append(refs, ref)
			if i == 0 {
				if _, err := call(ctx, func() (*srclient.CompatibilityLevel, error) {
					return r.client.ChangeSubjectCompatibilityLevel(subject, CompatibilityLevel)
				}); err != nil {
					return refs, r.classify(fmt.Sprintf("set compatibility %s on subject %q", CompatibilityLevel, subject), err, nil)
				}
			}
		}
	}
	return refs, nil
}

// Resolve looks up the registry ids of the local schemas without
// registering anything. The latest version of every event must be
// registered (an error wrapping ErrNotRegistered names the subject);
// older versions are resolved when present, so their events decode
// without a round-trip.
func (r *RegistryClient) Resolve(ctx context.Context) ([]SchemaRef, error) {
	var refs []SchemaRef
	for _, event := range r.catalog.events {
		subject := r.Subject(event)
		vs := r.catalog.versions[event]
		for i, v := range vs {
			s, err := call(ctx, func() (*srclient.Schema, error) {
				return r.client.LookupSchema(subject, v.Text, srclient.Avro)
			})
			if err != nil {
				if status(err) == http.StatusNotFound {
					if i < len(vs)-1 {
						continue
					}
					return refs, fmt.Errorf("%w: subject %q has no schema matching local %s v%d (run `soma schemas register`)", ErrNotRegistered, subject, event, v.Number)
				}
				return refs, r.classify(fmt.Sprintf("look up %s v%d in subject %q", event, v.Number, subject), err, nil)
			}
			ref := SchemaRef{ID: s.ID(), Event: event, Version: v.Number}
			r.remember(ref)
			refs = append(refs, ref)
		}
	}
	return refs, nil
}

func (r *RegistryClient) remember(ref SchemaRef) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Versions come oldest first: if a registry gave two versions one id,
	// the newest wins, which is the one we write.
	r.known[ref.ID] = ref
}

// KnownIDs returns the ids recorded by Register and Resolve.
func (r *RegistryClient) KnownIDs() []SchemaRef {
	r.mu.RLock()
	defer r.mu.RUnlock()
	refs := make([]SchemaRef, 0, len(r.known))
	for _, ref := range r.known {
		refs = append(refs, ref)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].ID < refs[j].ID })
	return refs
}

// SchemaByID returns the schema text registered under id: the local text
// for ids recorded by Register/Resolve, otherwise from the registry
// (bounded by the configured timeout; not cached here, the Codec caches
// the parsed result). A registry 404 wraps ErrUnknownSchemaID.
func (r *RegistryClient) SchemaByID(id int) (string, error) {
	r.mu.RLock()
	ref, ok := r.known[id]
	r.mu.RUnlock()
	if ok {
		return r.catalog.versions[ref.Event][ref.Version-1].Text, nil
	}
	s, err := r.client.GetSchema(id)
	if err != nil {
		if status(err) == http.StatusNotFound {
			return "", fmt.Errorf("%w: registry has no schema id %d", ErrUnknownSchemaID, id)
		}
		return "", r.classify(fmt.Sprintf("get schema id %d", id), err, nil)
	}
	if t := s.SchemaType(); t != nil && *t != "" && *t != srclient.Avro {
		return "", fmt.Errorf("%w: schema id %d is %s, not Avro", ErrUnknownSchemaID, id, *t)
	}
	return s.Schema(), nil
}

// classify wraps a registry error with what was being done; 409 and 422
// additionally wrap rejected (when not nil).
func (r *RegistryClient) classify(what string, err error, rejected error) error {
	code := status(err)
	if rejected != nil && (code == http.StatusConflict || code == http.StatusUnprocessableEntity) {
		return fmt.Errorf("%s at %s: %w (%d): %v", what, r.cfg.URL, rejected, code, err)
	}
	if code != 0 {
		return fmt.Errorf("%s at %s: registry answered %d: %w", what, r.cfg.URL, code, err)
	}
	return fmt.Errorf("%s at %s: %w", what, r.cfg.URL, err)
}

// status extracts the HTTP status of a srclient error: from the
// registry's error_code (40403 -> 404, 42201 -> 422, 409 -> 409), or from
// the status line srclient reports when the body is not JSON. 0 when
// unknown (network errors).
func status(err error) int {
	var se srclient.Error
	if errors.As(err, &se) && se.Code > 0 {
		code := se.Code
		for code >= 1000 {
			code /= 10
		}
		if code >= 100 && code < 600 {
			return code
		}
		return 0
	}
	s := err.Error()
	if len(s) >= 3 && (len(s) == 3 || s[3] == ' ') {
		if n, convErr := strconv.Atoi(s[:3]); convErr == nil && n >= 100 && n < 600 {
			return n
		}
	}
	return 0
}

// call runs a blocking srclient call (which takes no context) so that the
// caller returns as soon as ctx is done; the abandoned request still ends
// within the HTTP client's timeout.
func call[T any](ctx context.Context, f func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case res := <-done:
		return res.v, res.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}
