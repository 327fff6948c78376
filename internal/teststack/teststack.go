// Package teststack gives tests the settings of a whole evented stack:
// the real Kafka, PostgreSQL and Redis of internal/testenv, and the schema
// registry and Qdrant — real ones when SOMA_TEST_REGISTRY_URL and
// SOMA_TEST_QDRANT_URL name them, in-process doubles otherwise.
package teststack

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/somafractalmemory/soma/internal/qdrantfake"
	"github.com/somafractalmemory/soma/internal/testenv"
)

// Evented returns the environment variables of an evented stack whose
// topics, consumer group, Postgres schema, Redis prefix and Qdrant
// collection are unique to this call (named after prefix), so tests never
// share state. It fails or skips (see testenv) when a required service is
// missing. The doubles stop when the test ends.
func Evented(t testing.TB, prefix string) map[string]string {
	t.Helper()
	brokers := testenv.KafkaBrokers(t)
	pg := testenv.PostgresURL(t)
	rd := testenv.RedisURL(t)
	reg := testenv.Optional(testenv.RegistryURLVar)
	if reg == "" {
		fake := srfake.New()
		t.Cleanup(fake.Close)
		reg = fake.URL()
	}
	qd := testenv.Optional(testenv.QdrantURLVar)
	if qd == "" {
		qd = "http://" + qdrantfake.Start(t)
	}
	id := prefix + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	return map[string]string{
		"KAFKA_BOOTSTRAP_SERVERS":    strings.Join(brokers, ","),
		"KAFKA_MEMORY_EVENTS_TOPIC":  id + ".events",
		"KAFKA_DLQ_TOPIC":            id + ".dlq",
		"KAFKA_CONSUMER_GROUP":       id,
		"SCHEMA_REGISTRY_URL":        reg,
		"POSTGRES_URL":               pg,
		"SOMA_POSTGRES_SCHEMA":       id,
		"REDIS_URL":                  rd,
		"SOMA_REDIS_PREFIX":          id,
		"QDRANT_URL":                 qd,
		"QDRANT_COLLECTION":          id,
		"SOMA_PROJECTION_BATCH_WAIT": "5ms",
		"SOMA_LOG_LEVEL":             "warn",
	}
}
