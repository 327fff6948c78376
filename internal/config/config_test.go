package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	t.Run("defaults_are_valid_and_embedded", func(t *testing.T) {
		c, err := Load(MapLookup(nil))
		if err != nil {
			t.Fatal(err)
		}
		if c.Mode != ModeDevelopment || c.Namespace != "default" || c.HTTP.APIAddr != ":9595" || c.HTTP.QueryAddr != ":9596" {
			t.Fatalf("unexpected defaults: %+v", c)
		}
		if c.Kafka.Enabled || c.Postgres.URL != "" || c.Redis.URL != "" || c.Qdrant.Host != "" {
			t.Fatal("nothing configured must mean no external service")
		}
		if c.HTTP.RateLimitMax != 60 || c.HTTP.RateLimitWindow != 60*time.Second || c.Embedding.Dim != 384 {
			t.Fatalf("unexpected defaults: %+v", c.HTTP)
		}
	})
	t.Run("uvicorn_port_sets_api_port_unless_api_addr_given", func(t *testing.T) {
		c, err := Load(MapLookup(map[string]string{"UVICORN_PORT": "9999"}))
		if err != nil || c.HTTP.APIAddr != ":9999" {
			t.Fatalf("%v %q", err, c.HTTP.APIAddr)
		}
		c, err = Load(MapLookup(map[string]string{"UVICORN_PORT": "9999", "SOMA_API_ADDR": "127.0.0.1:1"}))
		if err != nil || c.HTTP.APIAddr != "127.0.0.1:1" {
			t.Fatalf("%v %q", err, c.HTTP.APIAddr)
		}
	})
	t.Run("reports_every_problem_at_once", func(t *testing.T) {
		_, err := Load(MapLookup(map[string]string{"SOMA_VECTOR_DIM": "x", "SOMA_RATE_LIMIT_MAX": "-1", "MEMORY_MODE": "weird"}))
		if err == nil {
			t.Fatal("want error")
		}
		for _, want := range []string{"SOMA_VECTOR_DIM", "SOMA_RATE_LIMIT_MAX", "MEMORY_MODE"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
		}
	})
	t.Run("enterprise_mode_names_missing_services", func(t *testing.T) {
		_, err := Load(MapLookup(map[string]string{"MEMORY_MODE": "evented_enterprise", "POSTGRES_URL": "postgres://x/y"}))
		if err == nil {
			t.Fatal("want error")
		}
		for _, want := range []string{"KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL", "QDRANT_URL", "SCHEMA_REGISTRY_URL"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
		}
		if strings.Contains(err.Error(), "POSTGRES_URL") {
			t.Errorf("error %q names a configured service", err)
		}
	})
	t.Run("scoped_tokens_parse_without_echoing_secrets", func(t *testing.T) {
		c, err := Load(MapLookup(map[string]string{"SOMA_API_TOKENS": "alice=s3cret@team-a,team-b; ops=t0k@*"}))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.HTTP.ScopedTokens) != 2 || c.HTTP.ScopedTokens[0].Label != "alice" || c.HTTP.ScopedTokens[0].Namespaces[1] != "team-b" || c.HTTP.ScopedTokens[1].Namespaces[0] != "*" {
			t.Fatalf("%+v", c.HTTP.ScopedTokens)
		}
		_, err = Load(MapLookup(map[string]string{"SOMA_API_TOKENS": "broken-s3cret"}))
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("want an error that does not echo the secret, got %v", err)
		}
	})
	t.Run("qdrant_url_and_redis_host_forms", func(t *testing.T) {
		c, err := Load(MapLookup(map[string]string{"QDRANT_URL": "https://q.example:6443", "REDIS_HOST": "r", "REDIS_DB": "2"}))
		if err != nil {
			t.Fatal(err)
		}
		if c.Qdrant.Host != "q.example" || c.Qdrant.Port != 6443 || !c.Qdrant.TLS || c.Redis.URL != "redis://r:6379/2" {
			t.Fatalf("%+v %+v", c.Qdrant, c.Redis)
		}
	})
	t.Run("decay_rules", func(t *testing.T) {
		c, err := Load(MapLookup(map[string]string{"SOMA_DECAY_THRESHOLDS": "60:scratch|tmp; 3600:details"}))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Policies.DecayRules) != 2 || c.Policies.DecayRules[0].Age != time.Minute || c.Policies.DecayRules[0].Keys[1] != "tmp" {
			t.Fatalf("%+v", c.Policies.DecayRules)
		}
	})
}

// TestEnvExample keeps .env.example, Variables and what Load reads in step.
func TestEnvExample(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", ".env.example")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != EnvExample() {
		t.Fatalf(".env.example is out of date: regenerate it with `go run ./cmd/soma config env-example > .env.example`")
	}
	// Every declared variable is read by some path of Load.
	seen := map[string]bool{}
	for _, env := range []map[string]string{
		nil,
		{"REDIS_URL": "redis://x:1/0", "QDRANT_URL": "http://q:6334", "SOMA_API_ADDR": ":1"},
		{"REDIS_HOST": "x", "QDRANT_HOST": "q", "UVICORN_PORT": "1"},
	} {
		_, _ = load(&reader{lookup: MapLookup(env), seen: seen})
	}
	for _, v := range Variables {
		if !seen[v.Name] {
			t.Errorf("%s is declared (and in .env.example) but never read", v.Name)
		}
	}
}
