package deploytest

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/somafractalmemory/soma/internal/config"
)

// repoRoot is the module root (the directory holding go.mod).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// envExample returns the variables of .env.example with their values.
func envExample(t *testing.T) map[string]string {
	t.Helper()
	vars := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(readRepoFile(t, ".env.example"))))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf(".env.example: line %q is not NAME=value", line)
		}
		vars[name] = value
	}
	if len(vars) == 0 {
		t.Fatal(".env.example lists no variable")
	}
	return vars
}

// secretVariables are the variables that must never be rendered into a
// ConfigMap or written in clear into a compose file.
func secretVariables() map[string]bool {
	out := map[string]bool{}
	for _, v := range config.Variables {
		if v.Secret {
			out[v.Name] = true
		}
	}
	return out
}

// requireKnownVariables fails for every name that .env.example does not list.
func requireKnownVariables(t *testing.T, where string, names []string) {
	t.Helper()
	known := envExample(t)
	var unknown []string
	for _, n := range names {
		if _, ok := known[n]; !ok {
			unknown = append(unknown, n)
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		t.Errorf("%s sets variables that soma does not read (not in .env.example): %v", where, unknown)
	}
}

// requireValidSomaConfig loads env the way `soma` does and fails on every
// problem the binary would refuse to start with.
func requireValidSomaConfig(t *testing.T, where string, env map[string]string) config.Config {
	t.Helper()
	cfg, err := config.Load(config.MapLookup(env))
	if err != nil {
		t.Errorf("%s: soma would refuse this configuration:\n%v", where, err)
	}
	return cfg
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
