package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/somafractalmemory/soma/internal/testenv"
)

// TestCLIHelperServe is not a test: TestCLI re-executes the test binary
// with SOMA_HELPER_SERVE=1 to run `soma serve` as a child process.
func TestCLIHelperServe(t *testing.T) {
	if os.Getenv("SOMA_HELPER_SERVE") != "1" {
		t.Skip("helper process for TestCLI")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, []string{"serve"}))
}

// startServe runs `soma serve` on the embedded store in a temporary data
// directory and free loopback ports, and returns the two base URLs once
// the write API answers /healthz.
func startServe(t *testing.T) (apiURL, queryURL string) {
	t.Helper()
	dir := t.TempDir()
	api, query := testenv.FreeAddr(t), testenv.FreeAddr(t)
	var logs testenv.SyncBuffer
	cmd := exec.Command(os.Args[0], "-test.run=^TestCLIHelperServe$")
	cmd.Env = []string{
		"SOMA_HELPER_SERVE=1",
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir,
		"SOMA_DATA_DIR=" + filepath.Join(dir, "data"),
		"SOMA_API_ADDR=" + api, "SOMA_QUERY_ADDR=" + query,
		"SOMA_RATE_LIMIT_MAX=0", "SOMA_LOG_LEVEL=warn",
	}
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("soma serve did not stop within 30s of SIGTERM\n%s", logs.String())
		}
	})
	apiURL, queryURL = "http://"+api, "http://"+query
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(apiURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return apiURL, queryURL
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("soma serve exited before it was healthy: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond): // poll interval
		}
		if time.Now().After(deadline) {
			t.Fatalf("soma serve not healthy after 90s\n%s", logs.String())
		}
	}
}

// cli runs the soma command line in process against one server.
type cli struct {
	t          *testing.T
	api, query string
	session    string
	defaultNS  string
	stdin      string
}

type result struct {
	code           int
	stdout, stderr string
}

// json decodes stdout (one JSON document).
func (r result) json(t *testing.T) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\nstdout: %s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return m
}

// run runs `soma args...` with the server's URLs, the namespace and the
// session file added.
func (c *cli) run(args ...string) result {
	c.t.Helper()
	full := append([]string{}, args...)
	if len(args) > 0 && !slices.Contains(args, "--url") {
		full = append(full, "--url", c.api, "--query-url", c.query, "--session-file", c.session)
		if !slices.Contains(args, "--namespace") {
			full = append(full, "--namespace", c.defaultNS)
		}
	}
	var stdout, stderr bytes.Buffer
	code := runWith(context.Background(), full, strings.NewReader(c.stdin), &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// ok runs and fails the test unless the exit code is 0.
func (c *cli) ok(args ...string) map[string]any {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("soma %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	if r.stderr != "" {
		c.t.Fatalf("soma %s wrote to stderr: %s", strings.Join(args, " "), r.stderr)
	}
	return r.json(c.t)
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts soma serve")
	}
	// The client reads these; the test passes everything as flags.
	for _, v := range []string{"SOMA_URL", "SOMA_QUERY_URL", "SOMA_API_TOKEN", "SOMA_MEMORY_NAMESPACE"} {
		t.Setenv(v, "")
	}
	api, query := startServe(t)
	newCLI := func(t *testing.T, ns string) *cli {
		return &cli{t: t, api: api, query: query, session: filepath.Join(t.TempDir(), "session.json"), defaultNS: ns}
	}

	t.Run("store_prints_the_accepted_answer", func(t *testing.T) {
		c := newCLI(t, "store")
		out := c.ok("store", "--coord", "1, 2,3", "--payload", `{"text":"hello","importance":3}`)
		if out["ok"] != true || jsonText(t, out["coord"]) != "[1,2,3]" {
			t.Fatalf("%v", out)
		}
		if ids, _ := out["event_ids"].([]any); len(ids) != 1 {
			t.Fatalf("event_ids: %v", out["event_ids"])
		}
		if tok, _ := out["consistency_token"].(string); tok == "" {
			t.Fatalf("no consistency token: %v", out)
		}
	})

	t.Run("recall_in_a_second_invocation_sees_the_store", func(t *testing.T) {
		c := newCLI(t, "recall")
		c.ok("store", "--coord", "1,1", "--payload", `{"text":"apples and pears","team":"a","n":3}`)
		c.ok("store", "--coord", "2,2", "--payload", `{"text":"apples everywhere","team":"b"}`, "--type", "semantic")
		c.ok("store", "--coord", "3,3", "--payload", `{"text":"the ocean is deep","team":"a"}`)
		out := c.ok("recall", "--query", "apples", "--top-k", "2")
		matches, _ := out["matches"].([]any)
		if len(matches) != 2 {
			t.Fatalf("want 2 matches: %v", out)
		}
		for _, m := range matches {
			if !strings.Contains(fmt.Sprint(m.(map[string]any)["text"]), "apples") {
				t.Fatalf("match without the query word first: %v", matches)
			}
		}

		out = c.ok("recall", "--query", "apples", "--filter", "team=a", "--filter", "n=3")
		matches, _ = out["matches"].([]any)
		if len(matches) != 1 || jsonText(t, matches[0].(map[string]any)["coordinate"]) != "[1,1]" {
			t.Fatalf("filters: %v", out)
		}
		out = c.ok("recall", "--query", "apples", "--type", "semantic")
		matches, _ = out["matches"].([]any)
		if len(matches) != 1 || matches[0].(map[string]any)["memory_type"] != "semantic" {
			t.Fatalf("type filter: %v", out)
		}
		out = c.ok("recall", "--query", "apples", "--scores", "--top-k", "1")
		results, _ := out["results"].([]any)
		if len(results) != 1 {
			t.Fatalf("scores: %v", out)
		}
		r := results[0].(map[string]any)
		for _, k := range []string{"score", "cosine", "importance_norm", "payload"} {
			if _, ok := r[k]; !ok {
				t.Fatalf("scored result without %s: %v", k, r)
			}
		}
	})

	t.Run("remember_generates_a_coordinate_unless_given", func(t *testing.T) {
		c := newCLI(t, "remember")
		out := c.ok("remember", "--payload", `{"text":"no coordinate"}`)
		if co, _ := out["coord"].([]any); len(co) == 0 {
			t.Fatalf("no generated coordinate: %v", out)
		}
		out = c.ok("remember", "--payload", `{"text":"given"}`, "--coord", "5,5")
		if jsonText(t, out["coord"]) != "[5,5]" {
			t.Fatalf("%v", out)
		}
	})

	t.Run("store_bulk_stores_a_json_array_file", func(t *testing.T) {
		c := newCLI(t, "bulk")
		file := filepath.Join(t.TempDir(), "items.json")
		items := `[{"coord":"1,0","payload":{"a":1}},{"coord":[2,0],"payload":{"b":2},"type":"semantic"}]`
		if err := os.WriteFile(file, []byte(items), 0o600); err != nil {
			t.Fatal(err)
		}
		out := c.ok("store-bulk", "--file", file)
		if jsonText(t, out["stored"]) != "2" {
			t.Fatalf("%v", out)
		}
		out = c.ok("stats")
		if jsonText(t, out) != `{"episodic":1,"semantic":1,"total_memories":2}` {
			t.Fatalf("stats after bulk: %v", out)
		}
		c.stdin = `[{"coord":"3,0","payload":{}}]`
		if out := c.ok("store-bulk", "--file", "-"); jsonText(t, out["stored"]) != "1" {
			t.Fatalf("from stdin: %v", out)
		}
	})

	t.Run("store_bulk_with_one_bad_coordinate_stores_nothing", func(t *testing.T) {
		c := newCLI(t, "bulk-bad")
		file := filepath.Join(t.TempDir(), "items.json")
		if err := os.WriteFile(file, []byte(`[{"coord":"1","payload":{}},{"coord":"x","payload":{}}]`), 0o600); err != nil {
			t.Fatal(err)
		}
		r := c.run("store-bulk", "--file", file)
		if r.code != 1 || !strings.HasPrefix(r.stderr, "error: ") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		if out := c.ok("stats"); jsonText(t, out["total_memories"]) != "0" {
			t.Fatalf("%v", out)
		}
	})

	t.Run("get_prints_the_record_and_fails_for_an_unknown_coordinate", func(t *testing.T) {
		c := newCLI(t, "get")
		c.ok("store", "--coord", "7", "--payload", `{"k":"v"}`)
		out := c.ok("get", "--coord", "7.0")
		if out["k"] != "v" || jsonText(t, out["coordinate"]) != "[7]" || out["memory_type"] != "episodic" {
			t.Fatalf("%v", out)
		}
		r := c.run("get", "--coord", "8")
		if r.code != 1 || !strings.Contains(r.stderr, "404") || r.stdout != "" {
			t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("link_neighbors_path_and_unlink", func(t *testing.T) {
		c := newCLI(t, "graph")
		for _, co := range []string{"1", "2", "3"} {
			c.ok("store", "--coord", co, "--payload", `{}`)
		}
		if out := c.ok("link", "--from", "1", "--to", "2", "--weight", "0"); out["ok"] != true {
			t.Fatalf("%v", out)
		}
		c.ok("link", "--from", "2", "--to", "3", "--type", "next", "--weight", "2.5")
		c.ok("link", "--from", "1", "--to", "3", "--weight", "10")

		out := c.ok("neighbors", "--coord", "1")
		ns, _ := out["neighbors"].([]any)
		if len(ns) != 2 {
			t.Fatalf("%v", out)
		}
		pair := ns[0].([]any)
		first := pair[1].(map[string]any)
		if len(pair) != 2 || jsonText(t, pair[0]) != "[2]" || jsonText(t, first["to"]) != "[2]" || first["type"] != "related" || jsonText(t, first["weight"]) != "0" || first["timestamp"] == nil {
			t.Fatalf("first edge: %v", first)
		}
		if out := c.ok("neighbors", "--coord", "1", "--limit", "1"); len(out["neighbors"].([]any)) != 1 {
			t.Fatalf("limit: %v", out)
		}
		if out := c.ok("neighbors", "--coord", "2", "--type", "other"); len(out["neighbors"].([]any)) != 0 {
			t.Fatalf("type filter: %v", out)
		}

		if out := c.ok("path", "--from", "1", "--to", "3"); jsonText(t, out["path"]) != "[[1],[2],[3]]" {
			t.Fatalf("cheapest path: %v", out)
		}
		if out := c.ok("path", "--from", "1", "--to", "3", "--type", "next"); jsonText(t, out["path"]) != "[]" {
			t.Fatalf("path over next links only: %v", out)
		}
		c.ok("unlink", "--from", "1", "--to", "2")
		if out := c.ok("path", "--from", "1", "--to", "3"); jsonText(t, out["path"]) != "[[1],[3]]" {
			t.Fatalf("path after unlink: %v", out)
		}
		r := c.run("link", "--from", "99", "--to", "1")
		if r.code != 1 || !strings.Contains(r.stderr, "404") {
			t.Fatalf("link from a missing memory: exit %d stderr %q", r.code, r.stderr)
		}
	})

	t.Run("range_lists_coordinates_within_bounds", func(t *testing.T) {
		c := newCLI(t, "range")
		for _, co := range []string{"1,1", "2,2", "3,3"} {
			c.ok("store", "--coord", co, "--payload", `{}`)
		}
		c.ok("store", "--coord", "2,5", "--payload", `{}`, "--type", "semantic")
		if out := c.ok("range", "--min", "1,1", "--max", "2,2"); jsonText(t, out["coords"]) != "[[1,1],[2,2]]" {
			t.Fatalf("%v", out)
		}
		if out := c.ok("range", "--min", "", "--max", "", "--type", "semantic"); jsonText(t, out["coords"]) != "[[2,5]]" {
			t.Fatalf("%v", out)
		}
	})

	t.Run("delete_and_delete_many_count_what_existed", func(t *testing.T) {
		c := newCLI(t, "delete")
		for _, co := range []string{"1,2,3", "4,5,6", "7"} {
			c.ok("store", "--coord", co, "--payload", `{}`)
		}
		if out := c.ok("delete-many", "--coords", "1,2,3;4,5,6;9,9"); jsonText(t, out["deleted"]) != "2" {
			t.Fatalf("%v", out)
		}
		if out := c.ok("delete", "--coord", "7"); jsonText(t, out["deleted"]) != "1" {
			t.Fatalf("%v", out)
		}
		if out := c.ok("stats"); jsonText(t, out["total_memories"]) != "0" {
			t.Fatalf("%v", out)
		}
	})

	t.Run("export_then_import_into_a_fresh_namespace_reproduces_records_and_links", func(t *testing.T) {
		c := newCLI(t, "export-src")
		c.ok("store", "--coord", "1,2,3", "--payload", `{"text":"first","importance":5,"nested":{"a":[1,2]}}`)
		c.ok("store", "--coord", "4,5,6", "--payload", `{"text":"second","timestamp":"yesterday"}`, "--type", "semantic")
		c.ok("store", "--coord", "0.5", "--payload", `{"n":1.50}`)
		c.ok("link", "--from", "1,2,3", "--to", "4,5,6", "--type", "cites", "--weight", "0.25")
		c.ok("link", "--from", "4,5,6", "--to", "1,2,3")
		c.ok("link", "--from", "1,2,3", "--to", "8,8")

		dir := t.TempDir()
		first := filepath.Join(dir, "first.ndjson")
		out := c.ok("export-memories", "--path", first)
		if jsonText(t, out["exported"]) != "3" {
			t.Fatalf("%v", out)
		}
		out = c.ok("import-memories", "--path", first, "--namespace", "export-dst")
		if jsonText(t, out["imported"]) != "3" || jsonText(t, out["skipped"]) != "0" || jsonText(t, out["linked"]) != "3" {
			t.Fatalf("import: %v", out)
		}
		second := filepath.Join(dir, "second.ndjson")
		c.ok("export-memories", "--path", second, "--namespace", "export-dst")
		a, b := exportLines(t, first), exportLines(t, second)
		if !slices.Equal(a, b) {
			t.Fatalf("exports differ:\n%s\n---\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
		}

		out = c.ok("import-memories", "--path", first, "--namespace", "export-dst")
		if jsonText(t, out["imported"]) != "0" || jsonText(t, out["skipped"]) != "3" {
			t.Fatalf("import again without --replace: %v", out)
		}
		out = c.ok("import-memories", "--path", first, "--namespace", "export-dst", "--replace")
		if jsonText(t, out["imported"]) != "3" || jsonText(t, out["skipped"]) != "0" {
			t.Fatalf("import again with --replace: %v", out)
		}
	})

	t.Run("import_reports_a_malformed_line_by_number", func(t *testing.T) {
		c := newCLI(t, "import-bad")
		file := filepath.Join(t.TempDir(), "bad.ndjson")
		body := `{"coordinate":[1],"a":1}` + "\n\n" + "not json\n"
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		r := c.run("import-memories", "--path", file)
		if r.code != 1 || !strings.Contains(r.stderr, "line.3") || r.stdout != "" {
			t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
		if out := c.ok("stats"); jsonText(t, out["total_memories"]) != "0" {
			t.Fatalf("a rejected import stored something: %v", out)
		}
	})

	t.Run("table_output_is_readable", func(t *testing.T) {
		c := newCLI(t, "table")
		c.ok("store", "--coord", "1,2", "--payload", `{"text":"tabular"}`)
		for _, tc := range []struct {
			args []string
			want []string
		}{
			{[]string{"stats"}, []string{"TOTAL", "EPISODIC", "SEMANTIC", "1"}},
			{[]string{"recall", "--query", "tabular"}, []string{"COORDINATE", "1,2", `{"text":"tabular"}`}},
			{[]string{"store", "--coord", "3", "--payload", "{}"}, []string{"FIELD", "consistency_token", "ok"}},
		} {
			r := c.run(append(tc.args, "--output", "table")...)
			if r.code != 0 {
				t.Fatalf("%v: exit %d %s", tc.args, r.code, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Fatalf("%v: table without %q:\n%s", tc.args, w, r.stdout)
				}
			}
		}
	})

	t.Run("failures_and_usage_errors", func(t *testing.T) {
		c := newCLI(t, "errors")
		for _, tc := range []struct {
			name   string
			args   []string
			code   int
			stderr string
		}{
			{"bad_coordinate_exits_1", []string{"store", "--coord", "1,x", "--payload", "{}"}, 1, `--coord: invalid coordinate "1,x": part "x" is not a number`},
			{"nan_coordinate_exits_1", []string{"neighbors", "--coord", "NaN"}, 1, "not finite"},
			{"bad_payload_exits_1", []string{"store", "--coord", "1", "--payload", "[1]"}, 1, "--payload: want a JSON object"},
			{"bad_coordinate_in_delete_many_exits_1", []string{"delete-many", "--coords", "1;y"}, 1, "--coords"},
			{"top_k_over_the_limit_is_refused_by_the_server", []string{"recall", "--query", "x", "--top-k", "1001"}, 1, "422"},
			{"top_k_below_one_exits_2", []string{"recall", "--query", "x", "--top-k", "0"}, 2, "--top-k"},
			{"missing_file_exits_1", []string{"import-memories", "--path", "/nonexistent/x.ndjson"}, 1, "no such file"},
			{"unknown_flag_exits_2", []string{"store", "--bogus"}, 2, "unknown flag: --bogus"},
			{"missing_required_flag_exits_2", []string{"store", "--coord", "1"}, 2, "--payload"},
			{"bad_output_format_exits_2", []string{"stats", "--output", "xml"}, 2, "--output"},
			{"bad_type_exits_2", []string{"recall", "--query", "x", "--type", "procedural"}, 2, "--type"},
			{"non_integer_flag_exits_2", []string{"recall", "--query", "x", "--top-k", "many"}, 2, "--top-k"},
			{"bad_filter_exits_2", []string{"recall", "--query", "x", "--filter", "novalue"}, 2, "--filter"},
			{"positional_argument_exits_2", []string{"stats", "extra"}, 2, "unexpected argument"},
			{"positional_argument_of_a_write_exits_2", []string{"store", "--coord", "1", "--payload", "{}", "x"}, 2, "unexpected argument"},
			{"bad_url_exits_2", []string{"stats", "--url", "ftp://x"}, 2, "URL"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := c.run(tc.args...)
				if r.code != tc.code || !strings.HasPrefix(r.stderr, "error: ") || !strings.Contains(r.stderr, tc.stderr) || r.stdout != "" {
					t.Fatalf("exit %d (want %d)\nstdout %q\nstderr %q (want %q)", r.code, tc.code, r.stdout, r.stderr, tc.stderr)
				}
			})
		}
		t.Run("unreachable_server_exits_1", func(t *testing.T) {
			r := runWith(context.Background(), []string{"stats", "--url", "http://" + testenv.FreeAddr(t), "--no-session"}, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
			if r != 1 {
				t.Fatalf("exit %d", r)
			}
		})
	})

	t.Run("a_stale_session_token_is_dropped_with_a_warning_instead_of_failing_reads", func(t *testing.T) {
		c := newCLI(t, "stale")
		// A token far ahead of the log, as after a server reset.
		stale := `{"consistency_token":"v1.ZXZlbnRfbG9nfDA6OTk5OTk5OQ","saved_at":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"}`
		if err := os.WriteFile(c.session, []byte(stale), 0o600); err != nil {
			t.Fatal(err)
		}
		r := c.run("stats")
		if r.code != 0 || jsonText(t, r.json(t)["total_memories"]) != "0" {
			t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
		if !strings.HasPrefix(r.stderr, "warning: ") || strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("want one warning line, stderr %q", r.stderr)
		}
		if _, err := os.Stat(c.session); !os.IsNotExist(err) {
			t.Fatalf("stale session kept: %v", err)
		}
	})
}

// exportLines reads an export, dropping what an import does not
// reproduce: importance_norm (recomputed) and link timestamps (linked
// anew).
func exportLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		delete(m, "importance_norm")
		if l, ok := m["link"].(map[string]any); ok {
			delete(l, "timestamp")
		}
		out = append(out, jsonText(t, m))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
