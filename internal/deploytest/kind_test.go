package deploytest

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// forwardEnv is the environment of port_forward_api.sh and run_ci.sh in a
// test: a private state directory, stopped again when the test ends.
func forwardEnv(t *testing.T, sp *sandboxPath, extra map[string]string) map[string]string {
	t.Helper()
	state := filepath.Join(t.TempDir(), "pf")
	env := map[string]string{"SOMA_PORT_FORWARD_DIR": state}
	for k, v := range extra {
		env[k] = v
	}
	t.Cleanup(func() {
		// Whatever a failed test left running.
		for _, name := range []string{"api", "query"} {
			if pid := readPid(filepath.Join(state, name+".pid")); pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGTERM)
			}
		}
	})
	return env
}

func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// alive: the process runs (a zombie waiting for its reaper does not).
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no /proc: trust the signal
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

const (
	forwardAPI   = "kubectl -n soma port-forward --address 127.0.0.1 svc/soma-api 9595:9595"
	forwardQuery = "kubectl -n soma port-forward --address 127.0.0.1 svc/soma-query 9596:9596"
)

func TestPortForwardStartStatusStop(t *testing.T) {
	sp := newSandboxPath(t)
	env := forwardEnv(t, sp, nil)
	state := env["SOMA_PORT_FORWARD_DIR"]
	pf := "scripts/port_forward_api.sh"

	r := sp.run(t, t.TempDir(), env, pf, "status")
	if r.code != 3 || strings.Count(r.stdout, "not running") != 2 {
		t.Errorf("status before start: want exit 3, both not running\n%s", r)
	}

	r = sp.run(t, t.TempDir(), env, pf, "start")
	if r.code != 0 {
		t.Fatalf("start: %s", r)
	}
	requireCalls(t, r, forwardAPI, forwardQuery)
	for _, want := range []string{"forwarding http://localhost:9595 -> svc/soma-api:9595", "forwarding http://localhost:9596 -> svc/soma-query:9596"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("start does not say %q\n%s", want, r)
		}
	}
	apiPid, queryPid := readPid(filepath.Join(state, "api.pid")), readPid(filepath.Join(state, "query.pid"))
	if !alive(apiPid) || !alive(queryPid) || apiPid == queryPid {
		t.Fatalf("pids %d %d: want two running port-forwards", apiPid, queryPid)
	}
	if info, err := os.Stat(state); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("state dir %v %v: want mode 0700", info.Mode(), err)
	}
	for _, name := range []string{"api", "query"} {
		if b, err := os.ReadFile(filepath.Join(state, name+".log")); err != nil || !strings.Contains(string(b), "Forwarding from") {
			t.Errorf("%s log %q %v: want kubectl's output", name, b, err)
		}
	}

	t.Run("start_is_idempotent", func(t *testing.T) {
		r := sp.run(t, t.TempDir(), env, pf, "start")
		if r.code != 0 || strings.Count(r.stdout, "already forwarding") != 2 || len(r.calls) != 0 {
			t.Errorf("second start: want exit 0, already forwarding twice, no kubectl call\n%s", r)
		}
		if readPid(filepath.Join(state, "api.pid")) != apiPid {
			t.Error("second start replaced the running forward")
		}
	})
	t.Run("status_reports_both", func(t *testing.T) {
		r := sp.run(t, t.TempDir(), env, pf, "status")
		if r.code != 0 || !strings.Contains(r.stdout, "pid "+strconv.Itoa(apiPid)) || !strings.Contains(r.stdout, "pid "+strconv.Itoa(queryPid)) {
			t.Errorf("status: want exit 0 and both pids\n%s", r)
		}
	})

	r = sp.run(t, t.TempDir(), env, pf, "stop")
	if r.code != 0 || strings.Count(r.stdout, "stopped") != 2 || len(r.calls) != 0 {
		t.Errorf("stop: want exit 0, both stopped, no kubectl call\n%s", r)
	}
	if alive(apiPid) || alive(queryPid) {
		t.Errorf("port-forwards still running after stop (%d %d)", apiPid, queryPid)
	}
	r = sp.run(t, t.TempDir(), env, pf, "stop")
	if r.code != 0 || strings.Count(r.stdout, "not running") != 2 {
		t.Errorf("second stop: want exit 0, not running\n%s", r)
	}
	r = sp.run(t, t.TempDir(), env, pf, "status")
	if r.code != 3 {
		t.Errorf("status after stop: want exit 3\n%s", r)
	}
}

func TestPortForwardOptions(t *testing.T) {
	sp := newSandboxPath(t)
	env := forwardEnv(t, sp, map[string]string{"SOMA_API_LOCAL_PORT": "19595", "SOMA_QUERY_LOCAL_PORT": "19596"})
	pf := "scripts/port_forward_api.sh"
	r := sp.run(t, t.TempDir(), env, pf, "--context", "kind-x", "start", "-n", "memory", "--release", "r1")
	if r.code != 0 {
		t.Fatalf("start: %s", r)
	}
	requireCalls(t, r,
		"kubectl --context kind-x -n memory port-forward --address 127.0.0.1 svc/r1-api 19595:9595",
		"kubectl --context kind-x -n memory port-forward --address 127.0.0.1 svc/r1-query 19596:9596")
	if r := sp.run(t, t.TempDir(), env, pf, "stop"); r.code != 0 {
		t.Errorf("stop: %s", r)
	}

	t.Run("environment_defaults", func(t *testing.T) {
		env := forwardEnv(t, sp, map[string]string{"SOMA_NAMESPACE": "ns2", "SOMA_RELEASE": "r2", "SOMA_KUBE_CONTEXT": "c2"})
		r := sp.run(t, t.TempDir(), env, pf, "start")
		requireCalls(t, r,
			"kubectl --context c2 -n ns2 port-forward --address 127.0.0.1 svc/r2-api 9595:9595",
			"kubectl --context c2 -n ns2 port-forward --address 127.0.0.1 svc/r2-query 9596:9596")
		sp.run(t, t.TempDir(), env, pf, "stop")
	})
}

func TestPortForwardFailures(t *testing.T) {
	sp := newSandboxPath(t)
	pf := "scripts/port_forward_api.sh"

	t.Run("names_the_forward_kubectl_refused", func(t *testing.T) {
		env := forwardEnv(t, sp, map[string]string{"FAKE_PF_FAIL": "soma-query"})
		r := sp.run(t, t.TempDir(), env, pf, "start")
		if r.code != 1 || !strings.Contains(r.stderr, "query: kubectl port-forward to svc/soma-query in namespace soma exited") ||
			!strings.Contains(r.stderr, `services "soma-query" not found`) {
			t.Errorf("want exit 1 naming the query forward, with kubectl's error\n%s", r)
		}
		if r := sp.run(t, t.TempDir(), env, pf, "status"); r.code != 3 || !strings.Contains(r.stdout, "query: not running") || !strings.Contains(r.stdout, "api: forwarding") {
			t.Errorf("status after a half start: want exit 3, api forwarding, query not running\n%s", r)
		}
		sp.run(t, t.TempDir(), env, pf, "stop")
	})
	t.Run("gives_up_on_a_silent_kubectl", func(t *testing.T) {
		env := forwardEnv(t, sp, map[string]string{"FAKE_PF_SILENT": "1", "SOMA_PORT_FORWARD_TIMEOUT": "1"})
		r := sp.run(t, t.TempDir(), env, pf, "start")
		if r.code != 1 || !strings.Contains(r.stderr, "api: kubectl port-forward to svc/soma-api is not forwarding after 1s") {
			t.Errorf("want exit 1 after the timeout\n%s", r)
		}
		if _, err := os.Stat(filepath.Join(env["SOMA_PORT_FORWARD_DIR"], "api.pid")); !os.IsNotExist(err) {
			t.Errorf("pid file left behind: %v", err)
		}
	})
	t.Run("ignores_a_pid_file_naming_another_process", func(t *testing.T) {
		env := forwardEnv(t, sp, nil)
		state := env["SOMA_PORT_FORWARD_DIR"]
		if err := os.MkdirAll(state, 0o700); err != nil {
			t.Fatal(err)
		}
		// This test process is alive but is no port-forward.
		if err := os.WriteFile(filepath.Join(state, "api.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := sp.run(t, t.TempDir(), env, pf, "status"); r.code != 3 || !strings.Contains(r.stdout, "api: not running") {
			t.Errorf("status: want api not running\n%s", r)
		}
		r := sp.run(t, t.TempDir(), env, pf, "start")
		requireCalls(t, r, forwardAPI, forwardQuery)
		if r := sp.run(t, t.TempDir(), env, pf, "stop"); r.code != 0 {
			t.Errorf("stop: %s", r)
		}
		if !alive(os.Getpid()) {
			t.Fatal("unreachable")
		}
	})
	t.Run("needs_kubectl", func(t *testing.T) {
		bare := newSandboxPath(t, "docker")
		r := bare.run(t, t.TempDir(), forwardEnv(t, bare, nil), pf, "start")
		if r.code != 1 || !strings.Contains(r.stderr, "kubectl is not on PATH") {
			t.Errorf("want exit 1: kubectl is not on PATH\n%s", r)
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"requires_a_command", nil, nil, "a command is required"},
		{"rejects_an_unknown_command", []string{"restart"}, nil, "unknown argument 'restart'"},
		{"rejects_two_commands", []string{"start", "stop"}, nil, "one command only"},
		{"requires_a_namespace_value", []string{"start", "--namespace"}, nil, "--namespace needs a value"},
		{"requires_a_context_value", []string{"start", "--context"}, nil, "--context needs a value"},
		{"rejects_a_bad_timeout", []string{"start"}, map[string]string{"SOMA_PORT_FORWARD_TIMEOUT": "soon"}, "SOMA_PORT_FORWARD_TIMEOUT=soon"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sp.run(t, t.TempDir(), forwardEnv(t, sp, tc.env), append([]string{pf}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "Usage: port_forward_api.sh start|stop|status") {
				t.Errorf("want exit 2, %q and the usage\n%s", tc.want, r)
			}
			if len(r.calls) != 0 {
				t.Errorf("ran %v", r.callStrings())
			}
		})
	}
}

// releaseWorkloads is what `kubectl get deployments,statefulsets -o name`
// lists for the development values (TestChartWorkloadNamesCarryTheirComponent
// keeps it equal to the chart).
var releaseWorkloads = []string{
	"deployment.apps/soma-api", "deployment.apps/soma-apicurio", "deployment.apps/soma-projector", "deployment.apps/soma-query",
	"statefulset.apps/soma-postgres", "statefulset.apps/soma-qdrant", "statefulset.apps/soma-redis", "statefulset.apps/soma-redpanda",
}

func ciEnv(t *testing.T, sp *sandboxPath, extra map[string]string) map[string]string {
	t.Helper()
	env := forwardEnv(t, sp, map[string]string{
		"FAKE_WORKLOADS": strings.Join(releaseWorkloads, " "),
		"FAKE_GO_ENV":    filepath.Join(t.TempDir(), "go.env"),
	})
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func rolloutCalls(prefix, timeout string) []string {
	var out []string
	for _, w := range releaseWorkloads {
		out = append(out, prefix+" rollout status "+w+" --timeout="+timeout)
	}
	return out
}

const (
	listWorkloads = "kubectl -n soma get deployments,statefulsets -l app.kubernetes.io/instance=soma -o name"
	goLiveTests   = "go test -count=1 -v -run ^TestLive ./cmd/soma/"
)

func TestRunCIPassesAgainstAHealthyRelease(t *testing.T) {
	sp := newSandboxPath(t)
	env := ciEnv(t, sp, nil)
	r := sp.run(t, t.TempDir(), env, "scripts/run_ci.sh")
	if r.code != 0 || !strings.Contains(r.stdout, "PASSED") {
		t.Fatalf("want success\n%s", r)
	}
	requireCalls(t, r, slices.Concat([]string{listWorkloads}, rolloutCalls("kubectl -n soma", "600s"), []string{forwardAPI, forwardQuery, goLiveTests})...)
	got, err := os.ReadFile(env["FAKE_GO_ENV"])
	if err != nil {
		t.Fatal(err)
	}
	want := "SOMA_E2E_QUERY_URL=http://127.0.0.1:9596\nSOMA_E2E_REQUIRED=1\nSOMA_E2E_URL=http://127.0.0.1:9595\n"
	if string(got) != want {
		t.Errorf("go test saw\n%s\nwant\n%s", got, want)
	}
	if r := sp.run(t, t.TempDir(), env, "scripts/port_forward_api.sh", "status"); r.code != 3 {
		t.Errorf("the forwards run_ci.sh started are still running\n%s", r)
	}

	t.Run("passes_its_options_on", func(t *testing.T) {
		env := ciEnv(t, sp, map[string]string{
			"FAKE_WORKLOADS": strings.ReplaceAll(strings.Join(releaseWorkloads, " "), "/soma-", "/r1-"),
			"GO":             "go",
		})
		r := sp.run(t, t.TempDir(), env, "scripts/run_ci.sh", "--context", "kind-x", "-n", "memory", "--release", "r1", "--timeout", "30")
		if r.code != 0 {
			t.Fatalf("want success\n%s", r)
		}
		var rollouts []string
		for _, c := range rolloutCalls("kubectl --context kind-x -n memory", "30s") {
			rollouts = append(rollouts, strings.ReplaceAll(c, "/soma-", "/r1-"))
		}
		requireCalls(t, r, slices.Concat(
			[]string{"kubectl --context kind-x -n memory get deployments,statefulsets -l app.kubernetes.io/instance=r1 -o name"},
			rollouts,
			[]string{
				"kubectl --context kind-x -n memory port-forward --address 127.0.0.1 svc/r1-api 9595:9595",
				"kubectl --context kind-x -n memory port-forward --address 127.0.0.1 svc/r1-query 9596:9596",
				goLiveTests,
			})...)
	})
	t.Run("keep_forward_leaves_the_forwards_running", func(t *testing.T) {
		env := ciEnv(t, sp, nil)
		if r := sp.run(t, t.TempDir(), env, "scripts/run_ci.sh", "--keep-forward"); r.code != 0 {
			t.Fatalf("want success\n%s", r)
		}
		if r := sp.run(t, t.TempDir(), env, "scripts/port_forward_api.sh", "status"); r.code != 0 {
			t.Errorf("--keep-forward: the forwards are gone\n%s", r)
		}
		sp.run(t, t.TempDir(), env, "scripts/port_forward_api.sh", "stop")
	})
	t.Run("leaves_running_forwards_alone", func(t *testing.T) {
		env := ciEnv(t, sp, nil)
		if r := sp.run(t, t.TempDir(), env, "scripts/port_forward_api.sh", "start"); r.code != 0 {
			t.Fatal(r)
		}
		r := sp.run(t, t.TempDir(), env, "scripts/run_ci.sh")
		if r.code != 0 || !strings.Contains(r.stdout, "already running") {
			t.Fatalf("want success using the running forwards\n%s", r)
		}
		requireCalls(t, r, slices.Concat([]string{listWorkloads}, rolloutCalls("kubectl -n soma", "600s"), []string{goLiveTests})...)
		if r := sp.run(t, t.TempDir(), env, "scripts/port_forward_api.sh", "status"); r.code != 0 {
			t.Errorf("run_ci.sh stopped forwards it did not start\n%s", r)
		}
		sp.run(t, t.TempDir(), env, "scripts/port_forward_api.sh", "stop")
	})
}

func TestRunCINamesTheFailingComponent(t *testing.T) {
	sp := newSandboxPath(t)
	diagnose := func(component string) []string {
		sel := "app.kubernetes.io/instance=soma,app.kubernetes.io/component=" + component
		return []string{
			"kubectl -n soma get pods -l " + sel + " -o wide",
			"kubectl -n soma logs -l " + sel + " --all-containers --tail=50 --prefix",
		}
	}
	cases := []struct {
		name      string
		env       map[string]string
		component string
		message   string
		calls     []string
	}{
		{
			name:      "a_dependency_that_does_not_roll_out",
			env:       map[string]string{"FAKE_ROLLOUT_FAIL": "soma-postgres"},
			component: "postgres",
			message:   "statefulset.apps/soma-postgres did not become ready within 600s",
			calls: slices.Concat([]string{listWorkloads}, rolloutCalls("kubectl -n soma", "600s")[:5],
				diagnose("postgres")),
		},
		{
			name:      "a_soma_process_that_does_not_roll_out",
			env:       map[string]string{"FAKE_ROLLOUT_FAIL": "soma-projector"},
			component: "projector",
			message:   "deployment.apps/soma-projector did not become ready",
			calls:     slices.Concat([]string{listWorkloads}, rolloutCalls("kubectl -n soma", "600s")[:3], diagnose("projector")),
		},
		{
			name:      "a_missing_soma_deployment",
			env:       map[string]string{"FAKE_WORKLOADS": "deployment.apps/soma-api deployment.apps/soma-query"},
			component: "projector",
			message:   "deployment soma-projector not found in namespace soma (is the chart installed? make helm-install)",
			calls:     []string{listWorkloads},
		},
		{
			name:      "a_port_forward_that_fails",
			env:       map[string]string{"FAKE_PF_FAIL": "soma-api"},
			component: "port-forward",
			message:   "cannot forward the APIs",
			calls:     slices.Concat([]string{listWorkloads}, rolloutCalls("kubectl -n soma", "600s"), []string{forwardAPI}),
		},
		{
			name: "an_end_to_end_failure",
			env: map[string]string{"FAKE_GO_RC": "1", "FAKE_GO_OUTPUT": "=== RUN   TestLiveCluster/query\n" +
				"    --- FAIL: TestLiveCluster/query (0.01s)\n    --- FAIL: TestLiveCluster/projector (0.20s)\n--- FAIL: TestLiveCluster (0.3s)\nFAIL"},
			component: "projector, query",
			message:   "end-to-end tests failed",
			calls: slices.Concat([]string{listWorkloads}, rolloutCalls("kubectl -n soma", "600s"),
				[]string{forwardAPI, forwardQuery, goLiveTests}, diagnose("projector"), diagnose("query")),
		},
		{
			name:      "end_to_end_tests_that_do_not_build",
			env:       map[string]string{"FAKE_GO_RC": "1", "FAKE_GO_OUTPUT": "cmd/soma/live_e2e_test.go:1: syntax error\nFAIL"},
			component: "e2e",
			message:   "the end-to-end tests did not run to completion (exit 1",
			calls: slices.Concat([]string{listWorkloads}, rolloutCalls("kubectl -n soma", "600s"),
				[]string{forwardAPI, forwardQuery, goLiveTests}),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := ciEnv(t, sp, tc.env)
			r := sp.run(t, t.TempDir(), env, "scripts/run_ci.sh")
			want := "FAILED: component " + tc.component + ": " + tc.message
			if r.code != 1 || !strings.Contains(r.stderr, want) {
				t.Errorf("want exit 1 and %q\n%s", want, r)
			}
			requireCalls(t, r, tc.calls...)
			if r := sp.run(t, t.TempDir(), env, "scripts/port_forward_api.sh", "status"); r.code != 3 {
				t.Errorf("forwards left running after the failure\n%s", r)
			}
		})
	}
	t.Run("needs_kubectl", func(t *testing.T) {
		bare := newSandboxPath(t, "go")
		r := bare.run(t, t.TempDir(), ciEnv(t, bare, nil), "scripts/run_ci.sh")
		if r.code != 1 || !strings.Contains(r.stderr, "FAILED: component kubectl: kubectl is not on PATH") {
			t.Errorf("want the missing kubectl named\n%s", r)
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"rejects_a_zero_timeout", []string{"--timeout", "0"}, "--timeout 0: want a positive number of seconds"},
		{"rejects_a_word_timeout", []string{"--timeout", "ten"}, "--timeout ten"},
		{"requires_a_release_value", []string{"--release"}, "--release needs a value"},
		{"rejects_a_positional_argument", []string{"soma"}, "unknown argument 'soma'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sp.run(t, t.TempDir(), ciEnv(t, sp, nil), append([]string{"scripts/run_ci.sh"}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "Usage: run_ci.sh") || len(r.calls) != 0 {
				t.Errorf("want exit 2, %q and the usage, nothing run\n%s", tc.want, r)
			}
		})
	}
}

// run_ci.sh derives a component from a workload's name
// (<release>-<component>) and the forwards use the chart's service names
// and ports: the chart must keep to both.
func TestChartWorkloadNamesCarryTheirComponent(t *testing.T) {
	rc := render(t, scenarioDefault)
	var got []string
	check := func(kind, name string, labels map[string]string) {
		if labels["app.kubernetes.io/instance"] != releaseName {
			t.Errorf("%s %s: instance label %q, want %s (run_ci.sh lists the release by it)", kind, name, labels["app.kubernetes.io/instance"], releaseName)
		}
		if c := labels["app.kubernetes.io/component"]; name != partName(c) {
			t.Errorf("%s %s: component label %q, want the name to be %s", kind, name, c, partName(c))
		}
	}
	for _, d := range all[*appsv1.Deployment](rc.Objects, "Deployment") {
		check("Deployment", d.Name, d.Spec.Template.Labels)
		got = append(got, "deployment.apps/"+d.Name)
	}
	for _, s := range all[*appsv1.StatefulSet](rc.Objects, "StatefulSet") {
		check("StatefulSet", s.Name, s.Spec.Template.Labels)
		got = append(got, "statefulset.apps/"+s.Name)
	}
	slices.Sort(got)
	if !slices.Equal(got, releaseWorkloads) {
		t.Errorf("workloads %v, want %v (the list the run_ci.sh tests use)", got, releaseWorkloads)
	}
	for svc, port := range map[string]string{"api": "9595", "query": "9596"} {
		s := find[*corev1.Service](t, rc.Objects, "Service", partName(svc))
		found := false
		for _, p := range s.Spec.Ports {
			found = found || strconv.Itoa(int(p.Port)) == port
		}
		if !found {
			t.Errorf("service %s has no port %s (port_forward_api.sh forwards to it)", s.Name, port)
		}
	}
}

// kindCluster is the part of kind's v1alpha4 Cluster the config uses;
// decoding is strict, so a misspelt field fails here.
type kindCluster struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Name       string `json:"name"`
	Networking struct {
		APIServerAddress string `json:"apiServerAddress"`
	} `json:"networking"`
	Nodes []struct {
		Role              string `json:"role"`
		Image             string `json:"image,omitempty"`
		ExtraPortMappings []struct {
			ContainerPort int    `json:"containerPort"`
			HostPort      int    `json:"hostPort"`
			ListenAddress string `json:"listenAddress"`
		} `json:"extraPortMappings,omitempty"`
	} `json:"nodes"`
}

func TestKindConfig(t *testing.T) {
	var c kindCluster
	if err := yaml.UnmarshalStrict(readRepoFile(t, "helm/kind-config.yaml"), &c); err != nil {
		t.Fatalf("helm/kind-config.yaml: %v", err)
	}
	if c.Kind != "Cluster" || c.APIVersion != "kind.x-k8s.io/v1alpha4" {
		t.Errorf("kind %q apiVersion %q, want a kind.x-k8s.io/v1alpha4 Cluster", c.Kind, c.APIVersion)
	}
	if c.Name != "soma" {
		t.Errorf("name %q, want soma (the Makefile's KIND_CLUSTER)", c.Name)
	}
	if c.Networking.APIServerAddress != "127.0.0.1" {
		t.Errorf("API server on %q, want 127.0.0.1", c.Networking.APIServerAddress)
	}
	if len(c.Nodes) == 0 || c.Nodes[0].Role != "control-plane" {
		t.Errorf("nodes %+v: want a control-plane node first", c.Nodes)
	}
	for _, n := range c.Nodes {
		for _, m := range n.ExtraPortMappings {
			if m.ListenAddress != "127.0.0.1" {
				t.Errorf("port mapping %+v: want 127.0.0.1 only", m)
			}
		}
	}
}
