package deploytest

import (
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/somafractalmemory/soma/internal/config"
)

// sandboxService is the dev file's `soma serve` in test mode.
const sandboxService = "sandbox"

// stackModes are the services scripts/start_stack.sh promises per mode
// (its usage says the same); "test" starts none.
var stackModes = []struct {
	args     []string
	profiles string   // the --profile flags the script passes
	services []string // started by `up`
	topics   bool     // followed by `run --rm topic-init`
}{
	{args: []string{"development"}, profiles: "--profile development", services: []string{"postgres", "qdrant"}},
	{args: []string{"development", "--with-broker"}, profiles: "--profile development --profile broker", services: []string{"apicurio", "postgres", "qdrant", "redpanda"}, topics: true},
	{args: []string{"--with-broker", "development"}, profiles: "--profile development --profile broker", services: []string{"apicurio", "postgres", "qdrant", "redpanda"}, topics: true},
	{args: []string{"evented_enterprise"}, profiles: "--profile evented_enterprise", services: dependencyServices, topics: true},
	{args: []string{"cloud_managed"}, profiles: "--profile cloud_managed", services: dependencyServices, topics: true},
	{args: []string{"evented_enterprise", "--with-broker"}, profiles: "--profile evented_enterprise", services: dependencyServices, topics: true},
	{args: []string{"test"}},
}

// composeCall is one recorded `docker compose` call, split into the parts
// compose reads.
type composeCall struct {
	file     string
	profiles []string
	rest     []string // the subcommand and its arguments
}

func parseComposeCall(t *testing.T, call []string) composeCall {
	t.Helper()
	if len(call) < 4 || call[0] != "docker" || call[1] != "compose" || call[2] != "-f" {
		t.Fatalf("not a `docker compose -f FILE` call: %q", call)
	}
	c := composeCall{file: call[3]}
	args := call[4:]
	for len(args) >= 2 && args[0] == "--profile" {
		c.profiles = append(c.profiles, args[1])
		args = args[2:]
	}
	c.rest = args
	return c
}

func TestStartStackStartsWhatEachModeNeeds(t *testing.T) {
	sp := newSandboxPath(t)
	devFile := filepath.Join(repoRoot(t), "docker-compose.dev.yml")
	for _, mode := range stackModes {
		t.Run(strings.Join(mode.args, "_"), func(t *testing.T) {
			r := sp.run(t, t.TempDir(), nil, append([]string{"scripts/start_stack.sh"}, mode.args...)...)
			if r.code != 0 {
				t.Fatalf("want success\n%s", r)
			}
			if len(mode.services) == 0 {
				if len(r.calls) != 0 || !strings.Contains(r.stdout, "needs no service") {
					t.Errorf("test mode: want no docker call and a word on the embedded store\n%s", r)
				}
				return
			}
			compose := "docker compose -f " + devFile + " " + mode.profiles
			want := []string{compose + " up -d --wait"}
			if mode.topics {
				want = append(want, compose+" --profile topics run --rm topic-init")
			}
			requireCalls(t, r, want...)
			if len(r.calls) != len(want) {
				return
			}
			up := parseComposeCall(t, r.calls[0])
			if up.file != devFile || !slices.Equal(up.rest, []string{"up", "-d", "--wait"}) {
				t.Errorf("first call %q: want docker compose -f %s --profile ... up -d --wait", r.calls[0], devFile)
			}
			// The profiles, loaded the way compose loads them, select
			// exactly the promised services.
			p := loadCompose(t, "docker-compose.dev.yml", true, up.profiles...)
			if got := p.ServiceNames(); !slices.Equal(got, sorted(mode.services)) {
				t.Errorf("profiles %v start %v, want %v", up.profiles, got, sorted(mode.services))
			}
			for _, name := range p.ServiceNames() {
				for dep := range service(t, p, name).DependsOn {
					if !slices.Contains(p.ServiceNames(), dep) {
						t.Errorf("%s depends on %s, which profiles %v leave out", name, dep, up.profiles)
					}
				}
			}
			if mode.topics {
				run := parseComposeCall(t, r.calls[1])
				if run.file != devFile || !slices.Equal(run.profiles, append(slices.Clone(up.profiles), "topics")) ||
					!slices.Equal(run.rest, []string{"run", "--rm", "topic-init"}) {
					t.Errorf("second call %q: want the same profiles plus topics, run --rm topic-init", r.calls[1])
				}
				p := loadCompose(t, "docker-compose.dev.yml", true, run.profiles...)
				for dep := range service(t, p, "topic-init").DependsOn {
					if !slices.Contains(mode.services, dep) {
						t.Errorf("topic-init depends on %s, which `up` did not start", dep)
					}
				}
			}
			requireStackExportsWork(t, r.stdout, mode.args[slices.IndexFunc(mode.args, func(a string) bool { return !strings.HasPrefix(a, "-") })], mode.services)
		})
	}
}

// requireStackExportsWork: the `export` lines start_stack.sh prints are
// soma variables, point at ports the started services publish, and make
// a configuration soma accepts in that mode.
func requireStackExportsWork(t *testing.T, stdout, mode string, services []string) {
	t.Helper()
	p := loadCompose(t, "docker-compose.dev.yml", true)
	published := map[string]bool{}
	for _, name := range services {
		for _, port := range service(t, p, name).Ports {
			published[port.Published] = true
		}
	}
	line := regexp.MustCompile(`^export ([A-Z][A-Z0-9_]*)='?([^']*)'?$`)
	env := map[string]string{}
	for _, l := range strings.Split(stdout, "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		env[m[1]] = m[2]
		if !strings.Contains(m[2], "://") && !strings.Contains(m[2], ":") {
			continue // a plain value (MEMORY_MODE, EVENTING_ENABLED)
		}
		raw := m[2]
		if !strings.Contains(raw, "://") {
			raw = "tcp://" + raw
		}
		if u, err := url.Parse(raw); err != nil || u.Hostname() != "127.0.0.1" || !published[u.Port()] {
			t.Errorf("export %s=%s: want 127.0.0.1 and a port the started services publish", m[1], m[2])
		}
	}
	if env["MEMORY_MODE"] != mode {
		t.Errorf("exports %v: want MEMORY_MODE=%s", env, mode)
	}
	requireKnownVariables(t, "start_stack.sh exports", keys(env))
	requireValidSomaConfig(t, "start_stack.sh "+mode+" exports", env)
}

func TestStartStackRefusesBadArguments(t *testing.T) {
	sp := newSandboxPath(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"requires_a_mode", nil, "MODE is required"},
		{"rejects_an_unknown_mode", []string{"production"}, "unknown MODE 'production'"},
		{"rejects_two_modes", []string{"development", "test"}, "one MODE only"},
		{"rejects_an_unknown_option", []string{"development", "--with-kafka"}, "unknown option --with-kafka"},
		{"rejects_a_broker_in_test_mode", []string{"test", "--with-broker"}, "MODE test runs no service"},
		{"rejects_a_mode_in_the_wrong_case", []string{"Development"}, "unknown MODE 'Development'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := sp.run(t, t.TempDir(), nil, append([]string{"scripts/start_stack.sh"}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "Usage: start_stack.sh MODE [--with-broker]") {
				t.Errorf("want exit 2, %q and the usage on stderr\n%s", tc.want, r)
			}
			if len(r.calls) != 0 {
				t.Errorf("ran %v despite bad arguments", r.callStrings())
			}
		})
	}
	t.Run("help_lists_every_mode", func(t *testing.T) {
		r := sp.run(t, t.TempDir(), nil, "scripts/start_stack.sh", "--help")
		for _, m := range []string{"development", "evented_enterprise", "cloud_managed", "test", "--with-broker"} {
			if !strings.Contains(r.stdout, m) {
				t.Errorf("--help does not mention %s\n%s", m, r)
			}
		}
	})
	t.Run("reports_a_failing_docker", func(t *testing.T) {
		r := sp.run(t, t.TempDir(), map[string]string{"FAKE_DOCKER_FAIL": "up"}, "scripts/start_stack.sh", "evented_enterprise")
		if r.code == 0 || len(r.calls) != 1 {
			t.Errorf("want a failure after the failed `up`, and no topic job\n%s", r)
		}
	})
}

// Every dependency service belongs to a profile, so a bare `up` starts
// nothing by surprise, and the file declares exactly the profiles the
// script and the Makefile use.
func TestComposeDevProfiles(t *testing.T) {
	p := loadCompose(t, "docker-compose.dev.yml", true)
	declared := map[string]bool{}
	for _, s := range p.Services {
		if len(s.Profiles) == 0 {
			t.Errorf("%s has no profile: a bare `docker compose up` would start it", s.Name)
		}
		for _, pr := range s.Profiles {
			declared[pr] = true
		}
	}
	want := []string{"broker", "cloud_managed", "development", "evented_enterprise", "sandbox", "topics"}
	if got := keys(declared); !slices.Equal(got, want) {
		t.Errorf("profiles %v, want %v", got, want)
	}
	for _, mode := range []string{config.ModeDevelopment, config.ModeEventedEnterprise, config.ModeCloudManaged} {
		if !declared[mode] {
			t.Errorf("no profile for MEMORY_MODE=%s", mode)
		}
	}
	if bare := loadCompose(t, "docker-compose.dev.yml", true, "none"); len(bare.Services) != 0 {
		t.Errorf("without a profile compose starts %v, want nothing", bare.ServiceNames())
	}
	if s := loadCompose(t, "docker-compose.dev.yml", true, "sandbox"); !slices.Equal(s.ServiceNames(), []string{sandboxService}) {
		t.Errorf("profile sandbox starts %v, want the sandbox alone", s.ServiceNames())
	}
}

// The sandbox is `soma serve` in test mode on 127.0.0.1:8888 that cannot
// reach real data: no .env, no service address, no volume.
func TestComposeSandboxIsAThrowawayServe(t *testing.T) {
	explicit := loadCompose(t, "docker-compose.dev.yml", false)
	s := service(t, explicit, sandboxService)
	if !slices.Equal(s.Profiles, []string{"sandbox"}) {
		t.Errorf("profiles %v, want [sandbox] only", s.Profiles)
	}
	if s.Image != "somafractalmemory/soma:dev" || s.Build == nil || s.Build.Dockerfile != "Dockerfile" {
		t.Errorf("image %q build %+v, want the soma image built from the Dockerfile", s.Image, s.Build)
	}
	if !slices.Equal(s.Command, types.ShellCommand{"serve"}) {
		t.Errorf("command %v, want serve", s.Command)
	}
	var ports []string
	for _, p := range s.Ports {
		ports = append(ports, p.HostIP+":"+p.Published+":"+itoa(int32(p.Target)))
	}
	if !slices.Equal(ports, []string{"127.0.0.1:8888:8888"}) {
		t.Errorf("ports %v, want 127.0.0.1:8888:8888 only", ports)
	}
	if len(s.EnvFiles) != 0 {
		t.Errorf("env_file %+v: the sandbox must not read .env (it may name real services)", s.EnvFiles)
	}
	for _, v := range s.Volumes {
		t.Errorf("mount %s:%s: the sandbox keeps nothing", v.Source, v.Target)
	}
	if !slices.Equal([]string(s.Tmpfs), []string{"/tmp"}) {
		t.Errorf("tmpfs %v, want /tmp (where test mode keeps its store)", s.Tmpfs)
	}
	if s.User != "65532:65532" || !s.ReadOnly || !slices.Equal(s.CapDrop, []string{"ALL"}) || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
		t.Errorf("user %q read_only %v cap_drop %v security_opt %v: want a locked-down container", s.User, s.ReadOnly, s.CapDrop, s.SecurityOpt)
	}
	if got, want := s.HealthCheck.Test, []string{"CMD", "/soma", "healthcheck", "http://127.0.0.1:8888/healthz"}; !slices.Equal(got, want) {
		t.Errorf("health check %v, want %v", got, want)
	}

	requireKnownVariables(t, "sandbox environment", keys(s.Environment))
	envMap := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			envMap[k] = *v
		}
	}
	for _, name := range []string{"POSTGRES_URL", "REDIS_URL", "REDIS_HOST", "QDRANT_URL", "QDRANT_HOST", "KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL"} {
		if _, ok := envMap[name]; ok {
			t.Errorf("the sandbox sets %s: it must not reach a real service", name)
		}
	}
	cfg := requireValidSomaConfig(t, "sandbox", envMap)
	if cfg.Mode != config.ModeTest {
		t.Errorf("MEMORY_MODE %q, want test", cfg.Mode)
	}
	if cfg.HTTP.APIAddr != ":8888" {
		t.Errorf("the API listens on %q, want :8888 (the published port)", cfg.HTTP.APIAddr)
	}
	if cfg.Kafka.Enabled || cfg.Postgres.URL != "" || cfg.Redis.URL != "" || cfg.Qdrant.Host != "" {
		t.Errorf("the sandbox configuration uses an external service: kafka %v postgres %q redis %q qdrant %q",
			cfg.Kafka.Enabled, cfg.Postgres.URL, cfg.Redis.URL, cfg.Qdrant.Host)
	}
}
