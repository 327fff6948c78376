package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/somafractalmemory/soma/internal/httpx"
	"github.com/somafractalmemory/soma/internal/kafkaconf"
)

// Memory modes (MEMORY_MODE).
const (
	ModeDevelopment       = "development"
	ModeTest              = "test"
	ModeEventedEnterprise = "evented_enterprise"
	ModeCloudManaged      = "cloud_managed"
)

// Config is the whole configuration of the soma binary.
type Config struct {
	Mode      string
	Namespace string
	DataDir   string
	LogLevel  string
	LogFormat string

	HTTP       HTTP
	Embedding  Embedding
	Policies   Policies
	Postgres   Postgres
	Redis      Redis
	Qdrant     Qdrant
	Kafka      Kafka
	Registry   Registry
	Projection Projection
	// Client is read for the client subcommands (LoadClient reads it
	// alone, without the service's validation).
	Client Client
}

// HTTP settings of both APIs.
type HTTP struct {
	APIAddr            string
	QueryAddr          string
	Token              string
	ScopedTokens       []httpx.ScopedToken
	RateLimitMax       int
	RateLimitWindow    time.Duration
	MaxBodyBytes       int64
	MaxBulkBodyBytes   int64
	PublishTimeout     time.Duration
	ConsistencyTimeout time.Duration
	IdempotencyTTL     time.Duration
}

// Embedding settings.
type Embedding struct {
	Dim       int
	Kind      string
	URL       string
	Model     string
	APIKey    string
	BatchSize int
	Timeout   time.Duration
}

// Policies: eviction and decay.
type Policies struct {
	MaxMemorySize  int
	DecayEnabled   bool
	DecayRules     []DecayRule
	PolicyInterval time.Duration
}

// DecayRule removes payload keys from memories older than Age.
type DecayRule struct {
	Age  time.Duration
	Keys []string
}

// Postgres read model.
type Postgres struct {
	URL      string
	Schema   string
	MaxConns int
}

// Redis read model. Addr is empty when Redis is not configured.
type Redis struct {
	URL      string // as given in REDIS_URL, or built from host/port
	Password string
	DB       int
	Prefix   string
}

// Qdrant read model. Host is empty when Qdrant is not configured.
type Qdrant struct {
	Host       string
	Port       int
	APIKey     string
	TLS        bool
	Collection string
}

// Kafka event log.
type Kafka struct {
	Enabled              bool // EVENTING_ENABLED and brokers configured
	Settings             kafkaconf.Settings
	Topic                string
	DLQTopic             string
	Partitions           int32
	ReplicationFactor    int16
	AllowFiniteRetention bool
	ConsumerGroupPrefix  string
}

// Registry is the schema registry.
type Registry struct {
	URL          string
	Username     string
	Password     string
	Timeout      time.Duration
	AutoRegister bool
}

// Projection runner settings.
type Projection struct {
	MetricsPort int
	BatchSize   int
	BatchWait   time.Duration
}

// Load reads every variable and returns the configuration, or all problems
// found at once.
func Load(lookup Lookup) (Config, error) {
	return load(&reader{lookup: lookup})
}

func load(r *reader) (Config, error) {
	c := Config{
		Mode:      strings.ToLower(r.str("MEMORY_MODE")),
		Namespace: r.str("SOMA_MEMORY_NAMESPACE"),
		DataDir:   r.str("SOMA_DATA_DIR"),
		LogLevel:  strings.ToLower(r.str("SOMA_LOG_LEVEL")),
		LogFormat: strings.ToLower(r.str("SOMA_LOG_FORMAT")),
	}

	c.Client = loadClient(r)

	c.HTTP = HTTP{
		APIAddr:            r.str("SOMA_API_ADDR"),
		QueryAddr:          r.str("SOMA_QUERY_ADDR"),
		Token:              r.str("SOMA_API_TOKEN"),
		RateLimitMax:       r.integer("SOMA_RATE_LIMIT_MAX"),
		RateLimitWindow:    r.duration("SOMA_RATE_LIMIT_WINDOW_SECONDS"),
		MaxBodyBytes:       int64(r.integer("SOMA_MAX_BODY_BYTES")),
		MaxBulkBodyBytes:   int64(r.integer("SOMA_MAX_BULK_BODY_BYTES")),
		PublishTimeout:     r.duration("SOMA_PUBLISH_TIMEOUT"),
		ConsistencyTimeout: r.duration("SOMA_CONSISTENCY_TIMEOUT"),
		IdempotencyTTL:     r.duration("SOMA_IDEMPOTENCY_TTL"),
	}
	if !r.set("SOMA_API_ADDR") && r.set("UVICORN_PORT") {
		c.HTTP.APIAddr = ":" + r.str("UVICORN_PORT")
	}
	tokens, err := httpx.ParseScopedTokens(r.str("SOMA_API_TOKENS"))
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("SOMA_API_TOKENS: %w", err))
	}
	c.HTTP.ScopedTokens = tokens

	c.Embedding = Embedding{
		Dim:       r.integer("SOMA_VECTOR_DIM"),
		Kind:      strings.ToLower(r.str("SOMA_EMBEDDER")),
		URL:       r.str("SOMA_EMBEDDINGS_URL"),
		Model:     r.str("SOMA_EMBEDDINGS_MODEL"),
		APIKey:    r.str("SOMA_EMBEDDINGS_API_KEY"),
		BatchSize: r.integer("SOMA_EMBEDDINGS_BATCH_SIZE"),
		Timeout:   r.duration("SOMA_EMBEDDINGS_TIMEOUT"),
	}

	c.Policies = Policies{
		MaxMemorySize:  r.integer("SOMA_MAX_MEMORY_SIZE"),
		DecayEnabled:   r.boolean("SOMA_DECAY_ENABLED"),
		DecayRules:     parseDecayRules(r, r.str("SOMA_DECAY_THRESHOLDS")),
		PolicyInterval: r.duration("SOMA_POLICY_INTERVAL"),
	}

	c.Postgres = Postgres{URL: r.str("POSTGRES_URL"), Schema: r.str("SOMA_POSTGRES_SCHEMA"), MaxConns: r.integer("SOMA_POSTGRES_MAX_CONNS")}

	c.Redis = Redis{Password: r.str("REDIS_PASSWORD"), DB: r.integer("REDIS_DB"), Prefix: r.str("SOMA_REDIS_PREFIX")}
	switch {
	case r.set("REDIS_URL"):
		c.Redis.URL = r.str("REDIS_URL")
	case r.set("REDIS_HOST"):
		c.Redis.URL = "redis://" + net.JoinHostPort(r.str("REDIS_HOST"), r.str("REDIS_PORT")) + "/" + strconv.Itoa(c.Redis.DB)
	}

	c.Qdrant = Qdrant{APIKey: r.str("QDRANT_API_KEY"), TLS: r.boolean("QDRANT_TLS"), Collection: r.str("QDRANT_COLLECTION"), Port: r.integer("QDRANT_PORT")}
	switch {
	case r.set("QDRANT_URL"):
		u, err := url.Parse(r.str("QDRANT_URL"))
		if err != nil || u.Hostname() == "" {
			r.errs = append(r.errs, fmt.Errorf("QDRANT_URL=%q: want http(s)://host:port", r.str("QDRANT_URL")))
			break
		}
		c.Qdrant.Host = u.Hostname()
		if p := u.Port(); p != "" {
			c.Qdrant.Port, _ = strconv.Atoi(p)
		}
		if u.Scheme == "https" {
			c.Qdrant.TLS = true
		}
	case r.set("QDRANT_HOST"):
		c.Qdrant.Host = r.str("QDRANT_HOST")
	}

	brokers := r.list("KAFKA_BOOTSTRAP_SERVERS")
	c.Kafka = Kafka{
		Enabled: r.boolean("EVENTING_ENABLED") && len(brokers) > 0,
		Settings: kafkaconf.Settings{
			Brokers:          brokers,
			ClientID:         r.str("KAFKA_CLIENT_ID"),
			Version:          r.str("KAFKA_VERSION"),
			SecurityProtocol: r.str("KAFKA_SECURITY_PROTOCOL"),
			SASLMechanism:    r.str("KAFKA_SASL_MECHANISM"),
			SASLUsername:     r.str("KAFKA_SASL_USERNAME"),
			SASLPassword:     r.str("KAFKA_SASL_PASSWORD"),
			TLSCAFile:        r.str("KAFKA_SSL_CA_LOCATION"),
			TLSCertFile:      r.str("KAFKA_SSL_CERTIFICATE_LOCATION"),
			TLSKeyFile:       r.str("KAFKA_SSL_KEY_LOCATION"),
			TLSSkipVerify:    r.boolean("KAFKA_SSL_INSECURE_SKIP_VERIFY"),
		},
		Topic:                r.str("KAFKA_MEMORY_EVENTS_TOPIC"),
		DLQTopic:             r.str("KAFKA_DLQ_TOPIC"),
		Partitions:           r.integer32("KAFKA_TOPIC_PARTITIONS"),
		ReplicationFactor:    r.integer16("KAFKA_TOPIC_REPLICATION_FACTOR"),
		AllowFiniteRetention: r.boolean("KAFKA_ALLOW_FINITE_RETENTION"),
		ConsumerGroupPrefix:  r.str("KAFKA_CONSUMER_GROUP"),
	}

	c.Registry = Registry{
		URL:          r.str("SCHEMA_REGISTRY_URL"),
		Username:     r.str("SCHEMA_REGISTRY_USERNAME"),
		Password:     r.str("SCHEMA_REGISTRY_PASSWORD"),
		Timeout:      r.duration("SCHEMA_REGISTRY_TIMEOUT"),
		AutoRegister: r.boolean("SOMA_SCHEMA_AUTO_REGISTER"),
	}

	c.Projection = Projection{
		MetricsPort: r.integer("CONSUMER_METRICS_PORT"),
		BatchSize:   r.integer("SOMA_PROJECTION_BATCH_SIZE"),
		BatchWait:   r.duration("SOMA_PROJECTION_BATCH_WAIT"),
	}

	return c, errors.Join(append(r.errs, c.Validate())...)
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch c.Mode {
	case ModeDevelopment, ModeTest, ModeEventedEnterprise, ModeCloudManaged:
	default:
		bad("MEMORY_MODE=%q: want development, test, evented_enterprise or cloud_managed", c.Mode)
	}
	if c.Namespace == "" {
		bad("SOMA_MEMORY_NAMESPACE must not be empty")
	}
	if c.HTTP.RateLimitMax < 0 {
		bad("SOMA_RATE_LIMIT_MAX must be ≥ 0")
	}
	if c.HTTP.RateLimitMax > 0 && c.HTTP.RateLimitWindow <= 0 {
		bad("SOMA_RATE_LIMIT_WINDOW_SECONDS must be > 0")
	}
	if c.HTTP.MaxBodyBytes <= 0 || c.HTTP.MaxBulkBodyBytes <= 0 {
		bad("SOMA_MAX_BODY_BYTES and SOMA_MAX_BULK_BODY_BYTES must be > 0")
	}
	if c.HTTP.PublishTimeout <= 0 || c.HTTP.ConsistencyTimeout <= 0 || c.HTTP.IdempotencyTTL <= 0 {
		bad("SOMA_PUBLISH_TIMEOUT, SOMA_CONSISTENCY_TIMEOUT and SOMA_IDEMPOTENCY_TTL must be > 0")
	}
	if c.Postgres.MaxConns < 0 || c.Postgres.MaxConns > math.MaxInt32 {
		bad("SOMA_POSTGRES_MAX_CONNS=%d: want 0..%d (0: the driver's default)", c.Postgres.MaxConns, math.MaxInt32)
	}
	if c.Embedding.Dim < 1 || c.Embedding.Dim > 65536 {
		bad("SOMA_VECTOR_DIM=%d: want 1..65536", c.Embedding.Dim)
	}
	switch c.Embedding.Kind {
	case "hash", "blake2b":
	case "openai":
		if c.Embedding.URL == "" {
			bad("SOMA_EMBEDDER=openai needs SOMA_EMBEDDINGS_URL")
		}
	default:
		bad("SOMA_EMBEDDER=%q: want hash, blake2b or openai", c.Embedding.Kind)
	}
	if c.Policies.MaxMemorySize < 0 {
		bad("SOMA_MAX_MEMORY_SIZE must be ≥ 0")
	}
	if c.Kafka.Enabled {
		if err := c.Kafka.Settings.Validate(); err != nil {
			errs = append(errs, err)
		}
		if c.Kafka.Topic == "" {
			bad("KAFKA_MEMORY_EVENTS_TOPIC must not be empty")
		}
		if c.Kafka.Partitions < 1 || c.Kafka.ReplicationFactor < 1 {
			bad("KAFKA_TOPIC_PARTITIONS and KAFKA_TOPIC_REPLICATION_FACTOR must be ≥ 1")
		}
		if c.Registry.URL == "" {
			bad("Kafka is configured but SCHEMA_REGISTRY_URL is not: events are framed with registry schema ids")
		}
	}
	if c.Projection.BatchSize < 1 {
		bad("SOMA_PROJECTION_BATCH_SIZE must be ≥ 1")
	}
	if c.Mode == ModeEventedEnterprise || c.Mode == ModeCloudManaged {
		var missing []string
		if !c.Kafka.Enabled {
			missing = append(missing, "KAFKA_BOOTSTRAP_SERVERS (with EVENTING_ENABLED=true)")
		}
		if c.Postgres.URL == "" {
			missing = append(missing, "POSTGRES_URL")
		}
		if c.Redis.URL == "" {
			missing = append(missing, "REDIS_URL or REDIS_HOST")
		}
		if c.Qdrant.Host == "" {
			missing = append(missing, "QDRANT_URL or QDRANT_HOST")
		}
		if c.Registry.URL == "" {
			missing = append(missing, "SCHEMA_REGISTRY_URL")
		}
		if len(missing) > 0 {
			bad("MEMORY_MODE=%s requires every external service; missing: %s", c.Mode, strings.Join(missing, ", "))
		}
	}
	return errors.Join(errs...)
}

func parseDecayRules(r *reader, s string) []DecayRule {
	var out []DecayRule
	for _, item := range strings.Split(s, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		age, keys, ok := strings.Cut(item, ":")
		secs, err := strconv.ParseFloat(strings.TrimSpace(age), 64)
		if !ok || err != nil || secs <= 0 || strings.TrimSpace(keys) == "" {
			r.errs = append(r.errs, fmt.Errorf("SOMA_DECAY_THRESHOLDS: %q is not age_seconds:key1|key2", item))
			continue
		}
		var ks []string
		for _, k := range strings.Split(keys, "|") {
			if k = strings.TrimSpace(k); k != "" {
				ks = append(ks, k)
			}
		}
		out = append(out, DecayRule{Age: time.Duration(secs * float64(time.Second)), Keys: ks})
	}
	return out
}

// EnvExample renders .env.example from Variables.
func EnvExample() string {
	var b strings.Builder
	b.WriteString("# SomaFractalMemory configuration. Every variable the soma binary reads, with its\n")
	b.WriteString("# default. Copy to .env and edit. Generated from internal/config/variables.go;\n")
	b.WriteString("# a test keeps the two in step (go test ./internal/config).\n")
	group := ""
	for _, v := range Variables {
		if v.Group != group {
			group = v.Group
			fmt.Fprintf(&b, "\n# --- %s ---\n", group)
		}
		fmt.Fprintf(&b, "# %s\n%s=%s\n", v.Meaning, v.Name, v.Default)
	}
	return b.String()
}
