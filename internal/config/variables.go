package config

// Variable is one environment variable the binary reads.
type Variable struct {
	Name    string
	Default string
	Meaning string
	Group   string
	Secret  bool
}

// Groups in the order .env.example lists them.
const (
	groupGeneral    = "General"
	groupHTTP       = "HTTP APIs"
	groupEmbedding  = "Embeddings"
	groupPolicies   = "Memory policies"
	groupPostgres   = "PostgreSQL read model"
	groupRedis      = "Redis read model"
	groupQdrant     = "Qdrant read model"
	groupKafka      = "Kafka event log"
	groupRegistry   = "Schema registry"
	groupProjection = "Projections"
	groupClient     = "Command-line client"
)

// Variables lists every variable, in .env.example order.
var Variables = []Variable{
	{Name: "MEMORY_MODE", Default: "development", Group: groupGeneral, Meaning: "development: configured services + embedded store for the rest; test: temporary embedded store; evented_enterprise, cloud_managed: every external service required"},
	{Name: "SOMA_MEMORY_NAMESPACE", Default: "default", Group: groupGeneral, Meaning: "namespace used when a request has no X-Soma-Namespace header"},
	{Name: "SOMA_DATA_DIR", Default: "./data", Group: groupGeneral, Meaning: "directory of the embedded store (SQLite file)"},
	{Name: "SOMA_LOG_LEVEL", Default: "info", Group: groupGeneral, Meaning: "debug, info, warn or error"},
	{Name: "SOMA_LOG_FORMAT", Default: "json", Group: groupGeneral, Meaning: "json or text"},

	{Name: "SOMA_API_ADDR", Default: ":9595", Group: groupHTTP, Meaning: "listen address of the write API (soma api, soma serve)"},
	{Name: "UVICORN_PORT", Default: "", Group: groupHTTP, Meaning: "port of the write API when SOMA_API_ADDR is unset (compatibility with the original service)"},
	{Name: "SOMA_QUERY_ADDR", Default: ":9596", Group: groupHTTP, Meaning: "listen address of the query API (soma query, soma serve)"},
	{Name: "SOMA_API_TOKEN", Default: "", Group: groupHTTP, Secret: true, Meaning: "bearer token required on every non-public route (empty: no auth unless SOMA_API_TOKENS is set)"},
	{Name: "SOMA_API_TOKENS", Default: "", Group: groupHTTP, Secret: true, Meaning: "namespace-scoped tokens: label=token@ns1,ns2;label2=token2@* (* = every namespace)"},
	{Name: "SOMA_RATE_LIMIT_MAX", Default: "60", Group: groupHTTP, Meaning: "requests per window per route and client; 0 disables rate limiting"},
	{Name: "SOMA_RATE_LIMIT_WINDOW_SECONDS", Default: "60", Group: groupHTTP, Meaning: "sliding rate-limit window in seconds"},
	{Name: "SOMA_MAX_BODY_BYTES", Default: "8388608", Group: groupHTTP, Meaning: "largest request body accepted (413 beyond)"},
	{Name: "SOMA_MAX_BULK_BODY_BYTES", Default: "67108864", Group: groupHTTP, Meaning: "largest body of /store_bulk and /import"},
	{Name: "SOMA_PUBLISH_TIMEOUT", Default: "5s", Group: groupHTTP, Meaning: "longest wait for the broker to acknowledge a command's events (503 beyond)"},
	{Name: "SOMA_CONSISTENCY_TIMEOUT", Default: "5s", Group: groupHTTP, Meaning: "longest wait of a query for the read models to reach its consistency token"},
	{Name: "SOMA_IDEMPOTENCY_TTL", Default: "24h", Group: groupHTTP, Meaning: "how long an Idempotency-Key answer is remembered"},

	{Name: "SOMA_VECTOR_DIM", Default: "384", Group: groupEmbedding, Meaning: "embedding dimension"},
	{Name: "SOMA_EMBEDDER", Default: "hash", Group: groupEmbedding, Meaning: "hash (model-free default), blake2b (the original's tiling) or openai (OpenAI-compatible /v1/embeddings)"},
	{Name: "SOMA_EMBEDDINGS_URL", Default: "", Group: groupEmbedding, Meaning: "base URL of the OpenAI-compatible embeddings server (e.g. http://ollama:11434)"},
	{Name: "SOMA_EMBEDDINGS_MODEL", Default: "", Group: groupEmbedding, Meaning: "model name sent to the embeddings server"},
	{Name: "SOMA_EMBEDDINGS_API_KEY", Default: "", Group: groupEmbedding, Secret: true, Meaning: "API key of the embeddings server"},
	{Name: "SOMA_EMBEDDINGS_BATCH_SIZE", Default: "64", Group: groupEmbedding, Meaning: "texts per embeddings request"},
	{Name: "SOMA_EMBEDDINGS_TIMEOUT", Default: "30s", Group: groupEmbedding, Meaning: "timeout of one embeddings request"},

	{Name: "SOMA_MAX_MEMORY_SIZE", Default: "100000", Group: groupPolicies, Meaning: "memories per namespace before the lowest-importance, then oldest, are evicted (0: no limit)"},
	{Name: "SOMA_DECAY_ENABLED", Default: "false", Group: groupPolicies, Meaning: "run payload decay"},
	{Name: "SOMA_DECAY_THRESHOLDS", Default: "", Group: groupPolicies, Meaning: "age_seconds:key1|key2;age2:key3 — payload keys removed once a memory is older than the age"},
	{Name: "SOMA_POLICY_INTERVAL", Default: "60s", Group: groupPolicies, Meaning: "how often eviction and decay run"},

	{Name: "POSTGRES_URL", Default: "", Group: groupPostgres, Secret: true, Meaning: "postgres://user:pass@host:5432/db (empty: embedded store)"}, // #nosec G101 -- the URL form in the help text, not a credential
	{Name: "SOMA_POSTGRES_SCHEMA", Default: "soma", Group: groupPostgres, Meaning: "schema holding the read-model tables"},
	{Name: "SOMA_POSTGRES_MAX_CONNS", Default: "16", Group: groupPostgres, Meaning: "connection pool size"},

	{Name: "REDIS_URL", Default: "", Group: groupRedis, Secret: true, Meaning: "redis://host:6379/0 (takes precedence over REDIS_HOST)"},
	{Name: "REDIS_HOST", Default: "", Group: groupRedis, Meaning: "Redis host (empty and no REDIS_URL: no Redis)"},
	{Name: "REDIS_PORT", Default: "6379", Group: groupRedis, Meaning: "Redis port"},
	{Name: "REDIS_PASSWORD", Default: "", Group: groupRedis, Secret: true, Meaning: "Redis password"},
	{Name: "REDIS_DB", Default: "0", Group: groupRedis, Meaning: "Redis database number"},
	{Name: "SOMA_REDIS_PREFIX", Default: "soma", Group: groupRedis, Meaning: "prefix of every Redis key"},

	{Name: "QDRANT_URL", Default: "", Group: groupQdrant, Meaning: "Qdrant gRPC address, e.g. http://qdrant:6334 (takes precedence over QDRANT_HOST)"},
	{Name: "QDRANT_HOST", Default: "", Group: groupQdrant, Meaning: "Qdrant host (empty and no QDRANT_URL: embedded vector index)"},
	{Name: "QDRANT_PORT", Default: "6334", Group: groupQdrant, Meaning: "Qdrant gRPC port"},
	{Name: "QDRANT_API_KEY", Default: "", Group: groupQdrant, Secret: true, Meaning: "Qdrant API key"},
	{Name: "QDRANT_TLS", Default: "false", Group: groupQdrant, Meaning: "use TLS to Qdrant"},
	{Name: "QDRANT_COLLECTION", Default: "soma_memories", Group: groupQdrant, Meaning: "collection (alias) name"},

	{Name: "EVENTING_ENABLED", Default: "true", Group: groupKafka, Meaning: "publish commands to Kafka when KAFKA_BOOTSTRAP_SERVERS is set; false: direct writes through the same projection code"},
	{Name: "KAFKA_BOOTSTRAP_SERVERS", Default: "", Group: groupKafka, Meaning: "host:port,host:port (empty: no Kafka, direct writes)"},
	{Name: "KAFKA_SECURITY_PROTOCOL", Default: "PLAINTEXT", Group: groupKafka, Meaning: "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"},
	{Name: "KAFKA_SASL_MECHANISM", Default: "PLAIN", Group: groupKafka, Meaning: "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
	{Name: "KAFKA_SASL_USERNAME", Default: "", Group: groupKafka, Meaning: "SASL user"},
	{Name: "KAFKA_SASL_PASSWORD", Default: "", Group: groupKafka, Secret: true, Meaning: "SASL password"},
	{Name: "KAFKA_SSL_CA_LOCATION", Default: "", Group: groupKafka, Meaning: "PEM file of the CA that signed the brokers' certificates"},
	{Name: "KAFKA_SSL_CERTIFICATE_LOCATION", Default: "", Group: groupKafka, Meaning: "PEM client certificate (mutual TLS)"},
	{Name: "KAFKA_SSL_KEY_LOCATION", Default: "", Group: groupKafka, Meaning: "PEM client key (mutual TLS)"},
	{Name: "KAFKA_SSL_INSECURE_SKIP_VERIFY", Default: "false", Group: groupKafka, Meaning: "skip broker certificate verification (never in production)"},
	{Name: "KAFKA_VERSION", Default: "3.6.0", Group: groupKafka, Meaning: "Kafka protocol version spoken to the brokers"},
	{Name: "KAFKA_CLIENT_ID", Default: "soma", Group: groupKafka, Meaning: "client id sent to the brokers"},
	{Name: "KAFKA_MEMORY_EVENTS_TOPIC", Default: "memory.events", Group: groupKafka, Meaning: "the event topic (the log)"},
	{Name: "KAFKA_DLQ_TOPIC", Default: "memory.dlq", Group: groupKafka, Meaning: "dead-letter topic of events no projection can apply"},
	{Name: "KAFKA_TOPIC_PARTITIONS", Default: "12", Group: groupKafka, Meaning: "partitions of the event topic when it is created"},
	{Name: "KAFKA_TOPIC_REPLICATION_FACTOR", Default: "1", Group: groupKafka, Meaning: "replication factor of the event topic when it is created"},
	{Name: "KAFKA_ALLOW_FINITE_RETENTION", Default: "false", Group: groupKafka, Meaning: "accept an event topic whose retention is not infinite (development only)"},
	{Name: "KAFKA_CONSUMER_GROUP", Default: "soma", Group: groupKafka, Meaning: "prefix of the projection consumer groups (<prefix>.projection.<read model>.v1)"},

	{Name: "SCHEMA_REGISTRY_URL", Default: "", Group: groupRegistry, Meaning: "Confluent-compatible registry, e.g. http://apicurio:8080/apis/ccompat/v7 (required with Kafka)"},
	{Name: "SCHEMA_REGISTRY_USERNAME", Default: "", Group: groupRegistry, Meaning: "registry basic-auth user"},
	{Name: "SCHEMA_REGISTRY_PASSWORD", Default: "", Group: groupRegistry, Secret: true, Meaning: "registry basic-auth password"},
	{Name: "SCHEMA_REGISTRY_TIMEOUT", Default: "5s", Group: groupRegistry, Meaning: "timeout of one registry request"},
	{Name: "SOMA_SCHEMA_AUTO_REGISTER", Default: "true", Group: groupRegistry, Meaning: "register the local schemas at start (false: look their ids up and refuse to start if missing)"},

	{Name: "CONSUMER_METRICS_PORT", Default: "8001", Group: groupProjection, Meaning: "port of the projector's /healthz, /readyz and /metrics"},
	{Name: "SOMA_PROJECTION_BATCH_SIZE", Default: "500", Group: groupProjection, Meaning: "events applied per read-model transaction"},
	{Name: "SOMA_PROJECTION_BATCH_WAIT", Default: "20ms", Group: groupProjection, Meaning: "longest wait to fill a batch"},

	{Name: "SOMA_URL", Default: "http://127.0.0.1:9595", Group: groupClient, Meaning: "write API base URL of the client subcommands (soma store, recall, …; --url overrides); they also send SOMA_API_TOKEN and SOMA_MEMORY_NAMESPACE when set"},
	{Name: "SOMA_QUERY_URL", Default: "", Group: groupClient, Meaning: "query API base URL of the client subcommands (empty: SOMA_URL, whose port serves the query routes too under soma serve)"},
}

var declared = func() map[string]Variable {
	m := make(map[string]Variable, len(Variables))
	for _, v := range Variables {
		m[v.Name] = v
	}
	return m
}()
