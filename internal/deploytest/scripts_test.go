package deploytest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The operations scripts run here against fake docker, kubectl, kind, helm
// and go binaries that record every call; PATH holds only the fakes and a
// short list of ordinary tools, so a script calling anything else fails.

// hostTools are the programs the scripts (and make) may use besides the
// faked ones.
var hostTools = []string{
	"bash", "cat", "chmod", "cut", "dirname", "env", "grep", "head", "id", "make",
	"mkdir", "mktemp", "nohup", "ps", "rm", "sed", "sleep", "sort", "tee", "tr",
}

// fakeLogPrelude records a call: the program's name, then one argument a
// line, then a blank line.
const fakeLogPrelude = `#!/usr/bin/env bash
set -u
{ printf '%s\n' "${0##*/}" "$@"; echo; } >>"$FAKE_LOG"
`

// fakePrograms are the stand-ins. Their behaviour is steered by FAKE_*
// variables:
//
//	FAKE_DOCKER_FAIL       docker exits 1 when its arguments contain this word
//	FAKE_KIND_CLUSTERS     what `kind get clusters` prints
//	FAKE_WORKLOADS         what `kubectl get deployments,statefulsets -o name` prints
//	FAKE_ROLLOUT_FAIL      names of workloads whose `rollout status` fails
//	FAKE_PF_FAIL           a service whose port-forward fails at once
//	FAKE_PF_SILENT=1       port-forward runs but never says it forwards
//	FAKE_GO_OUTPUT, FAKE_GO_RC  what `go test` prints and its exit code
//	FAKE_GO_ENV            file receiving the SOMA_E2E_* variables `go` saw
var fakePrograms = map[string]string{
	"docker": fakeLogPrelude + `
if [[ -n ${FAKE_DOCKER_FAIL:-} && " $* " == *" $FAKE_DOCKER_FAIL "* ]]; then
  echo "fake docker: $FAKE_DOCKER_FAIL failed" >&2
  exit 1
fi
`,
	"kind": fakeLogPrelude + `
if [[ "$1 $2" == "get clusters" ]]; then printf '%s\n' ${FAKE_KIND_CLUSTERS:-}; fi
`,
	"helm": fakeLogPrelude,
	"kubectl": fakeLogPrelude + `
case " $* " in
*" port-forward "*)
  if [[ -n ${FAKE_PF_FAIL:-} && " $* " == *" svc/$FAKE_PF_FAIL "* ]]; then
    echo "error: services \"$FAKE_PF_FAIL\" not found" >&2
    exit 1
  fi
  if [[ -z ${FAKE_PF_SILENT:-} ]]; then
    ports=${!#}
    echo "Forwarding from 127.0.0.1:${ports%%:*} -> ${ports##*:}"
  fi
  trap 'kill "$child" 2>/dev/null; exit 0' TERM
  sleep 120 &
  child=$!
  wait "$child"
  ;;
*" get pods "*) echo "NAME READY STATUS (fake)" ;;
*" get "*) printf '%s\n' ${FAKE_WORKLOADS:-} ;;
*" rollout status "*)
  for w in ${FAKE_ROLLOUT_FAIL:-}; do
    if [[ " $* " == *"/$w "* ]]; then
      echo "error: timed out waiting for the condition" >&2
      exit 1
    fi
  done
  echo "successfully rolled out"
  ;;
*" logs "*) echo "fake log line" ;;
esac
`,
	"go": fakeLogPrelude + `
if [[ -n ${FAKE_GO_ENV:-} ]]; then
  env | grep '^SOMA_E2E_' | sort >"$FAKE_GO_ENV"
fi
printf '%s\n' "${FAKE_GO_OUTPUT:-ok}"
exit "${FAKE_GO_RC:-0}"
`,
}

// sandboxPath is a directory of fakes and host tools for PATH.
type sandboxPath struct {
	dir string // fakes and tool links
	log string // FAKE_LOG
	tmp string // TMPDIR for the scripts
}

// newSandboxPath writes the fakes (all of fakePrograms unless only names
// some) and links the host tools.
func newSandboxPath(t *testing.T, only ...string) *sandboxPath {
	t.Helper()
	root := t.TempDir()
	sp := &sandboxPath{dir: filepath.Join(root, "bin"), log: filepath.Join(root, "calls.log"), tmp: filepath.Join(root, "tmp")}
	for _, d := range []string{sp.dir, sp.tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range fakePrograms {
		if len(only) > 0 && !slices.Contains(only, name) {
			continue
		}
		if err := os.WriteFile(filepath.Join(sp.dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tool := range hostTools {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s is not installed: the script tests need it", tool)
		}
		if err := os.Symlink(p, filepath.Join(sp.dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return sp
}

// scriptRun is the outcome of one script run.
type scriptRun struct {
	code           int
	stdout, stderr string
	calls          [][]string // each: program name, then its arguments
}

func (r scriptRun) String() string {
	return "exit " + itoa(int32(r.code)) + "\n--- stdout\n" + r.stdout + "--- stderr\n" + r.stderr
}

// callStrings renders the calls one line each.
func (r scriptRun) callStrings() []string {
	out := make([]string, len(r.calls))
	for i, c := range r.calls {
		out[i] = strings.Join(c, " ")
	}
	return out
}

// run runs argv (argv[0] relative to the repository root, or a program on
// the sandbox PATH) in dir with env added to the sandbox's environment.
func (sp *sandboxPath) run(t *testing.T, dir string, env map[string]string, argv ...string) scriptRun {
	t.Helper()
	name := argv[0]
	if strings.Contains(name, "/") {
		name = filepath.Join(repoRoot(t), name)
	} else {
		name = filepath.Join(sp.dir, name)
	}
	cmd := exec.Command(name, argv[1:]...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + sp.dir, "FAKE_LOG=" + sp.log, "TMPDIR=" + sp.tmp, "HOME=" + sp.tmp, "LC_ALL=C"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := scriptRun{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("%v: %v", argv, err)
	}
	r.calls = sp.takeCalls(t)
	return r
}

// takeCalls reads and clears the call log.
func (sp *sandboxPath) takeCalls(t *testing.T) [][]string {
	t.Helper()
	raw, err := os.ReadFile(sp.log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(sp.log); err != nil {
		t.Fatal(err)
	}
	var calls [][]string
	for _, block := range strings.Split(strings.TrimSuffix(string(raw), "\n\n"), "\n\n") {
		if block != "" {
			calls = append(calls, strings.Split(block, "\n"))
		}
	}
	return calls
}

// requireCalls compares the recorded calls with want, one line a call.
func requireCalls(t *testing.T, r scriptRun, want ...string) {
	t.Helper()
	if got := r.callStrings(); !slices.Equal(got, want) {
		t.Errorf("calls:\n  %s\nwant:\n  %s\n%s", strings.Join(got, "\n  "), strings.Join(want, "\n  "), r)
	}
}

// shellScripts are every script the repository ships.
func shellScripts(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, pattern := range []string{"scripts/*.sh", "helm/files/*.sh"} {
		m, err := filepath.Glob(filepath.Join(repoRoot(t), pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			rel, _ := filepath.Rel(repoRoot(t), p)
			out = append(out, rel)
		}
	}
	if len(out) < 6 {
		t.Fatalf("found only %v", out)
	}
	return out
}

func TestShellScriptsPassShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("SKIPPED: shellcheck is not installed (apt-get install shellcheck; make lint-shell installs it)")
	}
	cmd := exec.Command(sc, append([]string{"--format=gcc"}, shellScripts(t)...)...)
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// fixedGrammarScripts take no free arguments, so an unknown option is a
// usage error (exit 2) for them; a script taking e.g. package patterns
// may read it as one.
var fixedGrammarScripts = []string{
	"helm/files/create-topics.sh", "scripts/bench.sh", "scripts/port_forward_api.sh",
	"scripts/run_ci.sh", "scripts/start_stack.sh", "scripts/test-services.sh",
}

func TestShellScriptsAreExecutableAndAnswerHelp(t *testing.T) {
	sp := newSandboxPath(t)
	for _, rel := range shellScripts(t) {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			info, err := os.Stat(filepath.Join(repoRoot(t), rel))
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode()&0o111 == 0 {
				t.Errorf("%s is not executable", rel)
			}
			b := readRepoFile(t, rel)
			if !bytes.HasPrefix(b, []byte("#!/usr/bin/env bash\n")) || !bytes.Contains(b, []byte("set -euo pipefail")) {
				t.Errorf("%s: want #!/usr/bin/env bash and set -euo pipefail", rel)
			}
			for _, flag := range []string{"--help", "-h"} {
				r := sp.run(t, t.TempDir(), nil, "bash", filepath.Join(repoRoot(t), rel), flag)
				usage := strings.Contains(strings.ToLower(r.stdout), "usage") || strings.HasPrefix(r.stdout, filepath.Base(rel))
				if r.code != 0 || !usage || len(r.calls) != 0 {
					t.Errorf("%s %s: want exit 0, a usage on stdout and nothing run\n%s", rel, flag, r)
				}
			}
			if !slices.Contains(fixedGrammarScripts, rel) {
				return
			}
			r := sp.run(t, t.TempDir(), nil, "bash", filepath.Join(repoRoot(t), rel), "--no-such-option")
			if r.code != 2 || !strings.Contains(strings.ToLower(r.stderr), "usage") || len(r.calls) != 0 {
				t.Errorf("%s --no-such-option: want exit 2 and a usage on stderr, nothing run\n%s", rel, r)
			}
		})
	}
	for _, rel := range fixedGrammarScripts {
		if _, err := os.Stat(filepath.Join(repoRoot(t), rel)); err != nil {
			t.Errorf("%s: %v", rel, err)
		}
	}
}
