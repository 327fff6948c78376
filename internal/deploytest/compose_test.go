package deploytest

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// The long-running services each file starts, and the one-shot jobs.
var (
	dependencyServices = []string{"apicurio", "postgres", "qdrant", "redis", "redpanda"}
	somaServices       = []string{"api", "projector", "query"}
	somaJobs           = []string{"migrate", "schema-register"}
	// somaPorts are the ports the soma services publish (and health-check).
	somaPorts = map[string]uint32{"api": 9595, "query": 9596, "projector": 8001}
)

// loadCompose loads a compose file the way `docker compose` does after
// `cp .env.example .env`: in a copy of the project directory whose .env is
// .env.example, so the result does not depend on a developer's own .env.
// resolveEnv merges each service's env_file into its environment.
// profiles are the active profiles (--profile); none means every profile,
// so that every service of the file is in the project.
func loadCompose(t *testing.T, file string, resolveEnv bool, profiles ...string) *types.Project {
	t.Helper()
	root := repoRoot(t)
	dir := t.TempDir()
	copyFile(t, filepath.Join(root, file), filepath.Join(dir, file))
	copyFile(t, filepath.Join(root, ".env.example"), filepath.Join(dir, ".env"))
	copyFile(t, filepath.Join(root, "helm/files/create-topics.sh"), filepath.Join(dir, "helm/files/create-topics.sh"))
	copyFile(t, filepath.Join(root, "Dockerfile"), filepath.Join(dir, "Dockerfile"))

	fns := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(dir),
		cli.WithEnvFiles(filepath.Join(dir, ".env")),
		cli.WithDotEnv,
		cli.WithResolvedPaths(true),
	}
	if len(profiles) == 0 {
		profiles = []string{"*"}
	}
	fns = append(fns, cli.WithProfiles(profiles))
	if !resolveEnv {
		fns = append(fns, cli.WithoutEnvironmentResolution)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, file)}, fns...)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("%s does not load: %v", file, err)
	}
	return p
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("%s: %v", p.Name, err)
	}
	return s
}

func isJob(s types.ServiceConfig) bool { return s.Restart == types.RestartPolicyNo }

func env(s types.ServiceConfig, name string) string {
	if v, ok := s.Environment[name]; ok && v != nil {
		return *v
	}
	return ""
}

func TestComposeStackHasEveryServiceAndJob(t *testing.T) {
	p := loadCompose(t, "docker-compose.yml", true)
	if p.Name != "soma" {
		t.Errorf("project name %q, want soma", p.Name)
	}
	want := slices.Concat(dependencyServices, somaServices, somaJobs, []string{"topic-init"})
	slices.Sort(want)
	if got := p.ServiceNames(); !slices.Equal(sorted(got), want) {
		t.Errorf("services %v, want %v", sorted(got), want)
	}
	images := map[string]string{
		"redpanda":   "docker.redpanda.com/redpandadata/redpanda:",
		"topic-init": "docker.redpanda.com/redpandadata/redpanda:",
		"apicurio":   "apicurio/apicurio-registry:",
		"postgres":   "postgres:15",
		"qdrant":     "qdrant/qdrant:",
		"redis":      "redis:7",
	}
	for name, prefix := range images {
		if img := service(t, p, name).Image; !strings.HasPrefix(img, prefix) {
			t.Errorf("%s image %q, want %s*", name, img, prefix)
		}
	}
	for _, name := range slices.Concat(somaServices, somaJobs) {
		s := service(t, p, name)
		if s.Image != "somafractalmemory/soma:dev" || s.Build == nil || s.Build.Dockerfile != "Dockerfile" {
			t.Errorf("%s: image %q build %+v, want the soma image built from the Dockerfile", name, s.Image, s.Build)
		}
	}
	commands := map[string][]string{
		"api": {"api"}, "query": {"query"}, "projector": {"projector"},
		"migrate": {"migrate"}, "schema-register": {"schemas", "register"},
	}
	for name, want := range commands {
		if got := service(t, p, name).Command; !slices.Equal(got, want) {
			t.Errorf("%s command %v, want %v", name, got, want)
		}
	}
}

func TestComposePublishesOnlyOnLoopback(t *testing.T) {
	for _, file := range []string{"docker-compose.yml", "docker-compose.dev.yml"} {
		t.Run(file, func(t *testing.T) {
			p := loadCompose(t, file, true)
			for _, s := range p.Services {
				for _, port := range s.Ports {
					if port.Published == "" {
						continue
					}
					if port.HostIP != "127.0.0.1" {
						t.Errorf("%s publishes %s on %q, want 127.0.0.1 only", s.Name, port.Published, port.HostIP)
					}
				}
			}
			want := map[string][]string{
				"redpanda": {"19092:19092", "9644:9644"},
				"apicurio": {"8080:8080"},
				"postgres": {"5432:5432"},
				"qdrant":   {"6333:6333", "6334:6334"},
				"redis":    {"6379:6379"},
			}
			if file == "docker-compose.yml" {
				for name, port := range somaPorts {
					want[name] = []string{itoa(int32(port)) + ":" + itoa(int32(port))}
				}
			}
			for name, ports := range want {
				var got []string
				for _, port := range service(t, p, name).Ports {
					got = append(got, port.Published+":"+itoa(int32(port.Target)))
				}
				if !slices.Equal(sorted(got), sorted(ports)) {
					t.Errorf("%s publishes %v, want %v", name, got, ports)
				}
			}
		})
	}
}

func TestComposeHealthChecksEveryLongRunningService(t *testing.T) {
	for _, file := range []string{"docker-compose.yml", "docker-compose.dev.yml"} {
		t.Run(file, func(t *testing.T) {
			p := loadCompose(t, file, true)
			for _, s := range p.Services {
				if isJob(s) {
					if s.HealthCheck != nil && !s.HealthCheck.Disable {
						t.Errorf("job %s has a health check", s.Name)
					}
					continue
				}
				if s.Restart != types.RestartPolicyUnlessStopped {
					t.Errorf("%s restart %q, want unless-stopped", s.Name, s.Restart)
				}
				hc := s.HealthCheck
				if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil {
					t.Errorf("%s: health check %+v, want a test with interval, timeout and retries", s.Name, hc)
					continue
				}
				if hc.Test[0] != "CMD" && hc.Test[0] != "CMD-SHELL" {
					t.Errorf("%s: health check test %v", s.Name, hc.Test)
				}
			}
		})
	}
	p := loadCompose(t, "docker-compose.yml", true)
	for name, port := range somaPorts {
		// The image is distroless: the binary checks itself.
		want := []string{"CMD", "/soma", "healthcheck", "http://127.0.0.1:" + itoa(int32(port)) + "/healthz"}
		if got := service(t, p, name).HealthCheck.Test; !slices.Equal(got, want) {
			t.Errorf("%s health check %v, want %v", name, got, want)
		}
	}
	for name, want := range map[string]string{
		"apicurio": "GET /apis/ccompat/v7/subjects",
		"qdrant":   "GET /readyz",
		"postgres": "pg_isready",
		"redis":    "redis-cli",
		"redpanda": "rpk cluster health",
	} {
		if got := strings.Join(service(t, p, name).HealthCheck.Test, " "); !strings.Contains(got, want) {
			t.Errorf("%s health check %q does not run %q", name, got, want)
		}
	}
}

func TestComposeStartsInDependencyOrder(t *testing.T) {
	for _, file := range []string{"docker-compose.yml", "docker-compose.dev.yml"} {
		t.Run(file, func(t *testing.T) {
			p := loadCompose(t, file, true)
			for _, s := range p.Services {
				for dep, d := range s.DependsOn {
					target := service(t, p, dep)
					want := types.ServiceConditionHealthy
					if isJob(target) {
						want = types.ServiceConditionCompletedSuccessfully
					}
					if d.Condition != want {
						t.Errorf("%s depends on %s with %q, want %q", s.Name, dep, d.Condition, want)
					}
				}
			}
			requireDependsOn(t, p, "topic-init", "redpanda")
			requireDependsOn(t, p, "apicurio", "postgres")
		})
	}
	p := loadCompose(t, "docker-compose.yml", true)
	requireDependsOn(t, p, "migrate", "postgres")
	requireDependsOn(t, p, "schema-register", "apicurio")
	for _, name := range somaServices {
		requireDependsOn(t, p, name, "migrate", "schema-register", "topic-init", "postgres", "qdrant", "redis", "redpanda", "apicurio")
	}
}

func requireDependsOn(t *testing.T, p *types.Project, name string, deps ...string) {
	t.Helper()
	s := service(t, p, name)
	for _, d := range deps {
		if _, ok := s.DependsOn[d]; !ok {
			t.Errorf("%s does not depend on %s", name, d)
		}
	}
}

func TestComposeKeepsStateInNamedVolumes(t *testing.T) {
	mounts := map[string]string{
		"redpanda": "redpanda_data:/var/lib/redpanda/data",
		"postgres": "postgres_data:/var/lib/postgresql/data",
		"qdrant":   "qdrant_storage:/qdrant/storage",
		"redis":    "redis_data:/data",
	}
	for _, file := range []string{"docker-compose.yml", "docker-compose.dev.yml"} {
		t.Run(file, func(t *testing.T) {
			p := loadCompose(t, file, true)
			if got := sorted(keys(p.Volumes)); !slices.Equal(got, []string{"postgres_data", "qdrant_storage", "redis_data", "redpanda_data"}) {
				t.Errorf("volumes %v", got)
			}
			for name, want := range mounts {
				var got []string
				for _, v := range service(t, p, name).Volumes {
					if v.Type == types.VolumeTypeVolume {
						got = append(got, v.Source+":"+v.Target)
					}
				}
				if !slices.Equal(got, []string{want}) {
					t.Errorf("%s volumes %v, want [%s]", name, got, want)
				}
			}
		})
	}
}

func TestComposeTopicsAndRegistryStorage(t *testing.T) {
	for _, file := range []string{"docker-compose.yml", "docker-compose.dev.yml"} {
		t.Run(file, func(t *testing.T) {
			p := loadCompose(t, file, true)
			init := service(t, p, "topic-init")
			if !isJob(init) {
				t.Errorf("topic-init restarts (%q)", init.Restart)
			}
			if len(init.Configs) != 1 || !slices.Equal([]string(init.Entrypoint), []string{"/bin/bash", init.Configs[0].Target}) {
				t.Fatalf("topic-init entrypoint %v configs %+v: want bash running the mounted create-topics.sh", init.Entrypoint, init.Configs)
			}
			cfg := p.Configs[init.Configs[0].Source]
			if filepath.ToSlash(cfg.File) != filepath.ToSlash(filepath.Join(p.WorkingDir, "helm/files/create-topics.sh")) {
				t.Errorf("topic-init runs %q, want helm/files/create-topics.sh (shared with the chart)", cfg.File)
			}
			for name, want := range map[string]string{
				"KAFKA_BOOTSTRAP_SERVERS":        "redpanda:9092",
				"KAFKA_MEMORY_EVENTS_TOPIC":      "memory.events",
				"KAFKA_DLQ_TOPIC":                "memory.dlq",
				"KAFKA_TOPIC_PARTITIONS":         "12",
				"KAFKA_TOPIC_REPLICATION_FACTOR": "1",
				"KAFKA_ALLOW_FINITE_RETENTION":   "false",
			} {
				if got := env(init, name); got != want {
					t.Errorf("topic-init %s=%q, want %q", name, got, want)
				}
			}
			requireKnownVariables(t, file+" topic-init environment", keys(init.Environment))

			rp := strings.Join(service(t, p, "redpanda").Command, " ")
			for _, want := range []string{"internal://redpanda:9092", "external://127.0.0.1:19092"} {
				if !strings.Contains(rp, want) {
					t.Errorf("redpanda advertises %q, want %s", rp, want)
				}
			}

			reg := service(t, p, "apicurio")
			if env(reg, "APICURIO_STORAGE_KIND") != "sql" || env(reg, "APICURIO_DATASOURCE_URL") != "jdbc:postgresql://postgres:5432/apicurio" {
				t.Errorf("registry storage %v: want SQL in the apicurio database (schema ids must outlive the container)", reg.Environment)
			}
			pg := service(t, p, "postgres")
			if len(pg.Configs) != 1 || !strings.HasPrefix(pg.Configs[0].Target, "/docker-entrypoint-initdb.d/") {
				t.Fatalf("postgres configs %+v: want an init script", pg.Configs)
			}
			if c := p.Configs[pg.Configs[0].Source].Content; !strings.Contains(c, "CREATE DATABASE apicurio") {
				t.Errorf("postgres init script %q does not create the registry's database", c)
			}
		})
	}
}

func TestComposeSomaEnvironmentIsAValidEventedConfig(t *testing.T) {
	explicit := loadCompose(t, "docker-compose.yml", false)
	resolved := loadCompose(t, "docker-compose.yml", true)
	for _, name := range slices.Concat(somaServices, somaJobs) {
		t.Run(name, func(t *testing.T) {
			s := service(t, explicit, name)
			requireKnownVariables(t, name+" environment", keys(s.Environment))
			if len(s.EnvFiles) != 1 || filepath.Base(s.EnvFiles[0].Path) != ".env" || bool(s.EnvFiles[0].Required) {
				t.Errorf("env_file %+v, want an optional .env", s.EnvFiles)
			}
			for k, want := range map[string]string{
				"MEMORY_MODE":               "evented_enterprise",
				"KAFKA_BOOTSTRAP_SERVERS":   "redpanda:9092",
				"SCHEMA_REGISTRY_URL":       "http://apicurio:8080/apis/ccompat/v7",
				"QDRANT_URL":                "http://qdrant:6334",
				"REDIS_URL":                 "redis://redis:6379/0",
				"SOMA_SCHEMA_AUTO_REGISTER": "false",
			} {
				if got := env(s, k); got != want {
					t.Errorf("%s=%q, want %q", k, got, want)
				}
			}
			if u, err := url.Parse(env(s, "POSTGRES_URL")); err != nil || u.Hostname() != "postgres" || u.Port() != "5432" {
				t.Errorf("POSTGRES_URL=%q, want the postgres service", env(s, "POSTGRES_URL"))
			}
			if s.User != "65532:65532" || !s.ReadOnly || !slices.Equal(s.CapDrop, []string{"ALL"}) || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
				t.Errorf("user %q read_only %v cap_drop %v security_opt %v: want a locked-down container", s.User, s.ReadOnly, s.CapDrop, s.SecurityOpt)
			}

			// The environment the container gets (.env first, compose's own
			// entries win) is one soma accepts.
			r := service(t, resolved, name)
			envMap := map[string]string{}
			for k, v := range r.Environment {
				if v != nil {
					envMap[k] = *v
				}
			}
			if envMap["SOMA_VECTOR_DIM"] != envExample(t)["SOMA_VECTOR_DIM"] {
				t.Errorf(".env was not read: SOMA_VECTOR_DIM=%q", envMap["SOMA_VECTOR_DIM"])
			}
			cfg := requireValidSomaConfig(t, name, envMap)
			if cfg.Mode != "evented_enterprise" {
				t.Errorf("resolved MEMORY_MODE %q: the compose entry must win over .env", cfg.Mode)
			}
			if port, ok := somaPorts[name]; ok {
				var addr string
				switch name {
				case "api":
					addr = cfg.HTTP.APIAddr
				case "query":
					addr = cfg.HTTP.QueryAddr
				case "projector":
					addr = ":" + itoa(int32(cfg.Projection.MetricsPort))
				}
				if addr != ":"+itoa(int32(port)) {
					t.Errorf("%s listens on %q, want :%d", name, addr, port)
				}
			}
		})
	}
}

// The dev file holds the same dependency services as the full stack, so
// running soma from source meets the same versions and settings; besides
// them only the sandbox (soma serve in test mode, stack_test.go).
func TestComposeDevHasTheStackDependenciesOnly(t *testing.T) {
	dev := loadCompose(t, "docker-compose.dev.yml", true)
	full := loadCompose(t, "docker-compose.yml", true)
	if dev.Name != "soma-dev" {
		t.Errorf("project name %q, want soma-dev (apart from the full stack's)", dev.Name)
	}
	want := slices.Concat(dependencyServices, []string{"topic-init"})
	slices.Sort(want)
	if got := sorted(slices.DeleteFunc(dev.ServiceNames(), func(s string) bool { return s == sandboxService })); !slices.Equal(got, want) {
		t.Errorf("services %v, want %v and the sandbox", got, want)
	}
	for _, name := range want {
		d, f := service(t, dev, name), service(t, full, name)
		for _, field := range []string{"Image", "Command", "Entrypoint", "Environment", "HealthCheck", "Ports", "DependsOn", "Restart"} {
			dv := reflect.ValueOf(d).FieldByName(field).Interface()
			fv := reflect.ValueOf(f).FieldByName(field).Interface()
			if !reflect.DeepEqual(dv, fv) {
				t.Errorf("%s.%s differs between the dev file and the full stack:\n dev  %v\n full %v", name, field, dv, fv)
			}
		}
	}
}

// The addresses docker-compose.dev.yml documents for running soma from
// source are soma variables, reach the published ports, and make a valid
// evented configuration.
func TestComposeDevDocumentsWorkingAddresses(t *testing.T) {
	dev := loadCompose(t, "docker-compose.dev.yml", true)
	published := map[string]bool{}
	for _, s := range dev.Services {
		for _, p := range s.Ports {
			published[p.Published] = true
		}
	}
	line := regexp.MustCompile(`^#\s+([A-Z][A-Z0-9_]+)=(\S+)$`)
	envMap := map[string]string{"MEMORY_MODE": "evented_enterprise"}
	for _, l := range strings.Split(string(readRepoFile(t, "docker-compose.dev.yml")), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		envMap[m[1]] = m[2]
		raw := m[2]
		if !strings.Contains(raw, "://") {
			raw = "tcp://" + raw
		}
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() != "127.0.0.1" || !published[u.Port()] {
			t.Errorf("%s=%s: want 127.0.0.1 and a port the file publishes", m[1], m[2])
		}
	}
	requireKnownVariables(t, "docker-compose.dev.yml header", keys(envMap))
	if len(envMap) < 6 {
		t.Fatalf("found %d documented addresses, want POSTGRES_URL, REDIS_URL, QDRANT_URL, KAFKA_BOOTSTRAP_SERVERS, SCHEMA_REGISTRY_URL", len(envMap)-1)
	}
	requireValidSomaConfig(t, "docker-compose.dev.yml header", envMap)
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// `docker compose up --wait` counts a one-shot container that exited as a
// failure unless a long-running service waits for it with
// service_completed_successfully: every job of the full stack is awaited.
func TestComposeEveryJobIsAwaitedSoUpWaitSucceeds(t *testing.T) {
	p := loadCompose(t, "docker-compose.yml", true)
	for _, job := range p.Services {
		if !isJob(job) {
			continue
		}
		awaited := false
		for _, s := range p.Services {
			if d, ok := s.DependsOn[job.Name]; ok && !isJob(s) && d.Condition == types.ServiceConditionCompletedSuccessfully {
				awaited = true
			}
		}
		if !awaited {
			t.Errorf("no long-running service waits for job %s to complete", job.Name)
		}
	}
}
