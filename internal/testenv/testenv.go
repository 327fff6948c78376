// Package testenv gives tests the addresses of the real services started by
// scripts/test-services.sh.
//
// A service's address comes from its environment variable or, when unset,
// from the env file the script writes (.test-services/env at the repository
// root, or the file named by SOMA_TEST_ENV_FILE). When a service is not
// configured the test is skipped with a loud message, unless
// SOMA_REQUIRE_SERVICES=1 (as under `make test`), in which case it fails.
package testenv

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Variables written by scripts/test-services.sh.
const (
	PostgresURLVar  = "SOMA_TEST_POSTGRES_URL"
	RedisURLVar     = "SOMA_TEST_REDIS_URL"
	KafkaBrokersVar = "SOMA_TEST_KAFKA_BROKERS"
	// KafkaPIDFileVar names the broker's pid file, for the outage tests
	// (build tag outage) that pause the broker.
	KafkaPIDFileVar = "SOMA_TEST_KAFKA_PIDFILE"
	// PostgresDataDirVar and PgCtlVar let the outage tests stop and start
	// the test PostgreSQL server.
	PostgresDataDirVar = "SOMA_TEST_POSTGRES_DATADIR"
	PgCtlVar           = "SOMA_TEST_PG_CTL"
	// QdrantURLVar, when set, points suites that have an in-process double
	// at a real Qdrant instead (never required).
	QdrantURLVar = "SOMA_TEST_QDRANT_URL"
	// RegistryURLVar, when set, points suites at a real schema registry
	// instead of the in-process fake (never required).
	RegistryURLVar = "SOMA_TEST_REGISTRY_URL"

	requireVar = "SOMA_REQUIRE_SERVICES"
	envFileVar = "SOMA_TEST_ENV_FILE"
)

var (
	fileOnce sync.Once
	fileVars map[string]string
)

// PostgresURL returns a postgres:// URL of a server where the test may
// create databases and schemas.
func PostgresURL(t testing.TB) string { return require(t, PostgresURLVar, "PostgreSQL") }

// RedisURL returns a redis:// URL.
func RedisURL(t testing.TB) string { return require(t, RedisURLVar, "Redis") }

// KafkaBrokers returns the bootstrap brokers of a real Kafka.
func KafkaBrokers(t testing.TB) []string {
	return strings.Split(require(t, KafkaBrokersVar, "Kafka"), ",")
}

// Optional returns the value of an optional variable (env or env file), or
// "" when unset. Use it for QdrantURLVar and RegistryURLVar.
func Optional(name string) string { return lookup(name) }

// RequireServices reports whether missing services must fail tests.
func RequireServices() bool { return os.Getenv(requireVar) == "1" }

func require(t testing.TB, name, what string) string {
	t.Helper()
	if v := lookup(name); v != "" {
		return v
	}
	if RequireServices() {
		t.Fatalf("%s is required (%s=1) but %s is not set: run scripts/test-services.sh up", what, requireVar, name)
	}
	t.Skipf("SKIPPING: %s not configured (%s unset); run `scripts/test-services.sh up` or `make test`", what, name)
	return ""
}

func lookup(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	fileOnce.Do(loadFile)
	return fileVars[name]
}

func loadFile() {
	fileVars = map[string]string{}
	path := os.Getenv(envFileVar)
	if path == "" {
		root := repoRoot()
		if root == "" {
			return
		}
		path = filepath.Join(root, ".test-services", "env")
	}
	f, err := os.Open(path) // #nosec G304 G703 -- tests read the env file their own environment names
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		fileVars[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
}

func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
