package deploytest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The Makefile's stack, sandbox, kind and shell-lint targets, run by make
// itself against the fakes: the commands they would run on a machine with
// docker, kind and helm.

// makeRun runs `make -s` with args in the repository root.
func makeRun(t *testing.T, sp *sandboxPath, env map[string]string, args ...string) scriptRun {
	t.Helper()
	return sp.run(t, repoRoot(t), env, append([]string{"make", "-s", "--no-print-directory"}, args...)...)
}

func TestMakeStackAndSandboxTargets(t *testing.T) {
	sp := newSandboxPath(t)
	dev := filepath.Join(repoRoot(t), "docker-compose.dev.yml")
	cases := []struct {
		name  string
		args  []string
		calls []string
	}{
		{"stack_up_defaults_to_development", []string{"stack-up"}, []string{
			"docker compose -f " + dev + " --profile development up -d --wait"}},
		{"stack_up_with_a_broker", []string{"stack-up", "BROKER=1"}, []string{
			"docker compose -f " + dev + " --profile development --profile broker up -d --wait",
			"docker compose -f " + dev + " --profile development --profile broker --profile topics run --rm topic-init"}},
		{"stack_up_cloud_managed", []string{"stack-up", "STACK_MODE=cloud_managed"}, []string{
			"docker compose -f " + dev + " --profile cloud_managed up -d --wait",
			"docker compose -f " + dev + " --profile cloud_managed --profile topics run --rm topic-init"}},
		{"stack_up_test_runs_nothing", []string{"stack-up", "STACK_MODE=test"}, nil},
		{"dev_up_is_the_evented_stack", []string{"dev-up"}, []string{
			"docker compose -f " + dev + " --profile evented_enterprise up -d --wait",
			"docker compose -f " + dev + " --profile evented_enterprise --profile topics run --rm topic-init"}},
		{"dev_down_stops_every_profile", []string{"dev-down"}, []string{
			"docker compose -f docker-compose.dev.yml --profile * down"}},
		{"sandbox_up", []string{"sandbox-up"}, []string{
			"docker compose -f docker-compose.dev.yml --profile sandbox up -d --build --wait sandbox"}},
		{"sandbox_down", []string{"sandbox-down"}, []string{
			"docker compose -f docker-compose.dev.yml --profile sandbox rm --stop --force sandbox"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := makeRun(t, sp, nil, tc.args...)
			if r.code != 0 {
				t.Fatalf("make %v: %s", tc.args, r)
			}
			requireCalls(t, r, tc.calls...)
		})
	}
	t.Run("stack_up_refuses_an_unknown_mode", func(t *testing.T) {
		r := makeRun(t, sp, nil, "stack-up", "STACK_MODE=prod")
		if r.code == 0 || !strings.Contains(r.stderr, "unknown MODE 'prod'") || len(r.calls) != 0 {
			t.Errorf("want a failure with the script's usage\n%s", r)
		}
	})
}

func TestMakeKindTargets(t *testing.T) {
	sp := newSandboxPath(t)
	build := "docker build --build-arg VERSION=v9 -t somafractalmemory/soma:v9 ."
	load := "kind load docker-image somafractalmemory/soma:v9 --name soma"
	create := "kind create cluster --name soma --config helm/kind-config.yaml --wait 120s"
	install := "helm upgrade --install soma ./helm --kube-context kind-soma --namespace soma --create-namespace " +
		"--set image.tag=v9 --set image.pullPolicy=Never --wait --timeout 10m"
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		calls []string
	}{
		{"kind_create", []string{"kind-create"}, nil, []string{"kind get clusters", create}},
		{"kind_create_keeps_an_existing_cluster", []string{"kind-create"}, map[string]string{"FAKE_KIND_CLUSTERS": "other soma"}, []string{"kind get clusters"}},
		{"kind_load_builds_then_loads", []string{"kind-load", "VERSION=v9"}, nil, []string{build, load}},
		{"helm_install", []string{"helm-install", "VERSION=v9"}, nil, []string{install}},
		{"helm_install_extra_arguments", []string{"helm-install", "VERSION=v9", "HELM_ARGS=-f mine.yaml"}, nil, []string{install + " -f mine.yaml"}},
		{"kind_up_in_order", []string{"kind-up", "VERSION=v9"}, nil, []string{"kind get clusters", create, build, load, install}},
		{"kind_up_other_cluster", []string{"kind-up", "VERSION=v9", "KIND_CLUSTER=dev"}, nil, []string{
			"kind get clusters",
			strings.ReplaceAll(create, "--name soma", "--name dev"),
			build,
			strings.ReplaceAll(load, "--name soma", "--name dev"),
			strings.ReplaceAll(install, "kind-soma", "kind-dev"),
		}},
		{"kind_delete", []string{"kind-delete"}, nil, []string{"kind delete cluster --name soma"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := makeRun(t, sp, forwardEnv(t, sp, tc.env), tc.args...)
			if r.code != 0 {
				t.Fatalf("make %v: %s", tc.args, r)
			}
			requireCalls(t, r, tc.calls...)
		})
	}
	t.Run("kind_load_stops_when_the_build_fails", func(t *testing.T) {
		r := makeRun(t, sp, map[string]string{"FAKE_DOCKER_FAIL": "build"}, "kind-load", "VERSION=v9")
		if r.code == 0 {
			t.Errorf("want a failure\n%s", r)
		}
		requireCalls(t, r, build)
	})
	t.Run("kind_forward_and_stop", func(t *testing.T) {
		env := forwardEnv(t, sp, nil)
		r := makeRun(t, sp, env, "kind-forward")
		if r.code != 0 {
			t.Fatalf("%s", r)
		}
		requireCalls(t, r,
			"kubectl --context kind-soma -n soma port-forward --address 127.0.0.1 svc/soma-api 9595:9595",
			"kubectl --context kind-soma -n soma port-forward --address 127.0.0.1 svc/soma-query 9596:9596")
		if r := makeRun(t, sp, env, "kind-forward-stop"); r.code != 0 || strings.Count(r.stdout, "stopped") != 2 {
			t.Errorf("kind-forward-stop: %s", r)
		}
	})
	t.Run("kind_ci", func(t *testing.T) {
		env := ciEnv(t, sp, nil)
		r := makeRun(t, sp, env, "kind-ci")
		if r.code != 0 {
			t.Fatalf("%s", r)
		}
		calls := r.callStrings()
		if len(calls) == 0 || calls[0] != "kubectl --context kind-soma -n soma get deployments,statefulsets -l app.kubernetes.io/instance=soma -o name" ||
			calls[len(calls)-1] != goLiveTests {
			t.Errorf("kind-ci calls %q: want run_ci.sh on the kind context, ending with the live tests", calls)
		}
	})
}

// make lint-shell installs shellcheck with apt-get when it is missing (as
// root, like scripts/test-services.sh does for its packages), then checks
// every script.
func TestMakeLintShell(t *testing.T) {
	// A fake apt-get whose install puts a recording shellcheck on PATH.
	fakeAptGet := fakeLogPrelude + `
if [[ $1 == install ]]; then
  printf '%s\n' '#!/usr/bin/env bash' '{ printf "%s\n" "${0##*/}" "$@"; echo; } >>"$FAKE_LOG"' >"$FAKE_BIN/shellcheck"
  chmod +x "$FAKE_BIN/shellcheck"
fi
`
	fakeID := func(uid string) string {
		return "#!/usr/bin/env bash\nif [[ ${1:-} == -u ]]; then echo " + uid + "; else echo uid=" + uid + "; fi\n"
	}
	scripts := shellScripts(t)
	shellcheckCall := "shellcheck " + strings.Join(scripts, " ")

	setup := func(t *testing.T, uid string) (*sandboxPath, map[string]string) {
		sp := newSandboxPath(t)
		for name, body := range map[string]string{"apt-get": fakeAptGet, "id": fakeID(uid)} {
			path := filepath.Join(sp.dir, name)
			_ = os.Remove(path)
			if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return sp, map[string]string{"FAKE_BIN": sp.dir}
	}
	t.Run("installs_a_missing_shellcheck_as_root", func(t *testing.T) {
		sp, env := setup(t, "0")
		r := makeRun(t, sp, env, "lint-shell")
		if r.code != 0 {
			t.Fatalf("%s", r)
		}
		requireCalls(t, r, "apt-get update -q", "apt-get install -y -q --no-install-recommends shellcheck", shellcheckCall)
	})
	t.Run("asks_for_root_otherwise", func(t *testing.T) {
		sp, env := setup(t, "1000")
		r := makeRun(t, sp, env, "lint-shell")
		if r.code == 0 || !strings.Contains(r.stderr, "shellcheck is missing: apt-get install shellcheck (needs root)") || len(r.calls) != 0 {
			t.Errorf("want a failure asking for root, nothing run\n%s", r)
		}
	})
	t.Run("uses_an_installed_shellcheck", func(t *testing.T) {
		sp, env := setup(t, "0")
		if r := sp.run(t, t.TempDir(), env, "apt-get", "install", "shellcheck"); r.code != 0 {
			t.Fatal(r)
		}
		r := makeRun(t, sp, env, "lint-shell")
		if r.code != 0 {
			t.Fatalf("%s", r)
		}
		requireCalls(t, r, shellcheckCall)
	})
	t.Run("make_lint_runs_it_first", func(t *testing.T) {
		sp, env := setup(t, "0")
		// The gofmt check lists files with git ls-files | xargs gofmt -l:
		// stand-ins that find nothing let the recipe reach go vet. The
		// later steps (staticcheck, gosec, govulncheck) need the real
		// toolchain, so only the order of the calls is asserted here.
		for _, name := range []string{"git", "xargs", "gofmt"} {
			if err := os.WriteFile(filepath.Join(sp.dir, name), []byte("#!/usr/bin/env bash\nexit 0\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		r := makeRun(t, sp, env, "lint")
		calls := r.callStrings()
		want := []string{"apt-get update -q", "apt-get install -y -q --no-install-recommends shellcheck", shellcheckCall}
		if len(calls) <= len(want) || !slices.Equal(calls[:len(want)], want) || !slices.Contains(calls, "go vet ./...") {
			t.Errorf("make lint calls %q: want the shellcheck install and run, then go vet", calls)
		}
	})
	if !slices.Contains(scripts, "scripts/start_stack.sh") || !slices.Contains(scripts, "helm/files/create-topics.sh") {
		t.Errorf("shell scripts %v miss the stack script or the topic script", scripts)
	}
}
