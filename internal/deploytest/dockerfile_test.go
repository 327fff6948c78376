package deploytest

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// parseDockerfile parses the Dockerfile with BuildKit's own parser and
// linter (the checks `docker build --check` runs); lint warnings fail.
func parseDockerfile(t *testing.T) ([]instructions.Stage, map[string]string) {
	t.Helper()
	res, err := parser.Parse(bytes.NewReader(readRepoFile(t, "Dockerfile")))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile parser warning: %s", w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, desc, url, msg string, loc []parser.Range) {
		t.Errorf("Dockerfile lint %s: %s", rule, msg)
	}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	args := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			args[kv.Key] = kv.ValueString()
		}
	}
	return stages, args
}

func commands[T instructions.Command](stage instructions.Stage) []T {
	var out []T
	for _, c := range stage.Commands {
		if tc, ok := c.(T); ok {
			out = append(out, tc)
		}
	}
	return out
}

func TestDockerfileBuildsAStaticBinaryIntoDistroless(t *testing.T) {
	stages, meta := parseDockerfile(t)
	if len(stages) != 2 {
		t.Fatalf("%d stages, want 2 (build, runtime)", len(stages))
	}
	build, final := stages[0], stages[1]

	base, _, err := shell.NewLex('\\').ProcessWord(build.BaseName, shell.EnvsFromSlice([]string{"GO_VERSION=" + meta["GO_VERSION"]}))
	if err != nil {
		t.Fatal(err)
	}
	if base != "golang:1.26.10" {
		t.Errorf("build stage FROM %q, want golang:1.26.10 (a patch with the standard-library fixes)", base)
	}
	var buildLine string
	for _, run := range commands[*instructions.RunCommand](build) {
		line := strings.Join(run.CmdLine, " ")
		if strings.Contains(line, "go build") {
			buildLine = line
		}
	}
	for _, want := range []string{
		"CGO_ENABLED=0 go build", "-trimpath", `-ldflags "-s -w -X main.version=${VERSION}"`, "-o /soma ./cmd/soma",
	} {
		if !strings.Contains(buildLine, want) {
			t.Errorf("go build line %q lacks %q", buildLine, want)
		}
	}
	if !slices.ContainsFunc(commands[*instructions.ArgCommand](build), func(a *instructions.ArgCommand) bool { return a.Args[0].Key == "VERSION" }) {
		t.Errorf("build stage has no ARG VERSION")
	}

	if final.BaseName != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("runtime FROM %q, want gcr.io/distroless/static-debian12:nonroot", final.BaseName)
	}
	copied := false
	for _, c := range commands[*instructions.CopyCommand](final) {
		if c.From == build.Name && slices.Equal(c.SourcePaths, []string{"/soma"}) && c.DestPath == "/soma" {
			copied = true
		}
	}
	if !copied {
		t.Errorf("runtime stage does not COPY --from=%s /soma /soma", build.Name)
	}
	users := commands[*instructions.UserCommand](final)
	if len(users) == 0 || users[len(users)-1].User != "65532:65532" {
		t.Errorf("runtime USER %v, want 65532:65532 (distroless nonroot)", users)
	}
	var exposed []string
	for _, e := range commands[*instructions.ExposeCommand](final) {
		exposed = append(exposed, e.Ports...)
	}
	if !slices.Equal(sorted(exposed), []string{"8001", "9595", "9596"}) {
		t.Errorf("EXPOSE %v, want 9595 9596 8001", exposed)
	}
	var volumes []string
	for _, v := range commands[*instructions.VolumeCommand](final) {
		volumes = append(volumes, v.Volumes...)
	}
	if !slices.Equal(volumes, []string{"/data"}) {
		t.Errorf("VOLUME %v, want [/data]", volumes)
	}
	envs := map[string]string{}
	for _, e := range commands[*instructions.EnvCommand](final) {
		for _, kv := range e.Env {
			envs[kv.Key] = kv.Value
		}
	}
	if envs["SOMA_DATA_DIR"] != "/data" {
		t.Errorf("SOMA_DATA_DIR=%q, want /data (the volume)", envs["SOMA_DATA_DIR"])
	}
	requireKnownVariables(t, "Dockerfile ENV", keys(envs))

	hcs := commands[*instructions.HealthCheckCommand](final)
	if len(hcs) != 1 {
		t.Fatalf("%d HEALTHCHECKs, want 1", len(hcs))
	}
	if got, want := hcs[0].Health.Test, []string{"CMD", "/soma", "healthcheck", "http://127.0.0.1:9595/healthz"}; !slices.Equal(got, want) {
		t.Errorf("HEALTHCHECK %v, want %v (no shell in distroless)", got, want)
	}
	if hcs[0].Health.Interval == 0 || hcs[0].Health.Timeout == 0 || hcs[0].Health.Retries == 0 {
		t.Errorf("HEALTHCHECK %+v: want interval, timeout and retries", hcs[0].Health)
	}
	eps := commands[*instructions.EntrypointCommand](final)
	if len(eps) != 1 || eps[0].PrependShell || !slices.Equal(eps[0].CmdLine, []string{"/soma"}) {
		t.Errorf(`ENTRYPOINT %+v, want exec form ["/soma"]`, eps)
	}
	cmds := commands[*instructions.CmdCommand](final)
	if len(cmds) != 1 || cmds[0].PrependShell || !slices.Equal(cmds[0].CmdLine, []string{"serve"}) {
		t.Errorf(`CMD %+v, want exec form ["serve"]`, cmds)
	}
	for _, r := range commands[*instructions.RunCommand](final) {
		t.Errorf("runtime stage RUNs %v: distroless has no shell", r.CmdLine)
	}
}

// Everything `go build ./cmd/soma` reads is in the build context, and what
// must stay out (secrets, binaries, the git history) is excluded.
func TestDockerignoreKeepsTheBuildInputsOnly(t *testing.T) {
	patterns, err := ignorefile.ReadAll(bytes.NewReader(readRepoFile(t, ".dockerignore")))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	ignored := func(rel string) bool {
		m, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	root := repoRoot(t)
	need := []string{"go.mod", "go.sum"}
	list := exec.Command("go", "list", "-deps", "-json=Dir,Module,GoFiles,EmbedFiles", "./cmd/soma")
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var pkg struct {
			Dir    string
			Module *struct{ Main bool }
			GoFiles,
			EmbedFiles []string
		}
		if err := dec.Decode(&pkg); err != nil {
			t.Fatal(err)
		}
		if pkg.Module == nil || !pkg.Module.Main {
			continue
		}
		rel, err := filepath.Rel(root, pkg.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range slices.Concat(pkg.GoFiles, pkg.EmbedFiles) {
			need = append(need, filepath.Join(rel, f))
		}
	}
	if len(need) < 20 {
		t.Fatalf("go list found only %d build inputs", len(need))
	}
	for _, f := range need {
		if ignored(f) {
			t.Errorf(".dockerignore excludes %s, which the build needs", f)
		}
	}
	for _, f := range []string{".git/config", ".env", ".env.local", "bin/soma", "soma", "data/soma.db", "projections/postgres/postgres.test", ".test-services/env", "helm/values.yaml"} {
		if !ignored(f) {
			t.Errorf(".dockerignore lets %s into the build context", f)
		}
	}
}
