package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/somafractalmemory/soma"
	"github.com/somafractalmemory/soma/internal/consistency"
)

// fakeService answers the client subcommands the session tests use; lag
// and outage make reads carrying a consistency token fail with 503.
type fakeService struct {
	t *testing.T

	mu sync.Mutex
	// readTokens are the consistency tokens reads carried ("" none).
	readTokens []string
	// lag answers reads carrying a token with a lag 503; outage answers
	// every read with a plain 503.
	lag, outage bool
	// writeToken is the token of every write's answer.
	writeToken string
	// duringWrite runs while a write is handled.
	duringWrite func()
}

func (f *fakeService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/stats":
		tok := r.Header.Get(consistency.Header)
		f.readTokens = append(f.readTokens, tok)
		switch {
		case f.outage:
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"detail":"vector index unavailable"}`)
		case f.lag && tok != "":
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"detail":"Read models have not applied the consistency token within 5s: records; retry later","lagging":[{"read_model":"records","partition":0,"want":99,"applied":1}],"source":"event_log","timeout_seconds":5}`)
		default:
			fmt.Fprint(w, `{"total_memories":1,"episodic":1,"semantic":0}`)
		}
	case "/store", "/import":
		if f.duringWrite != nil {
			f.duringWrite()
		}
		w.Header().Set(consistency.Header, f.writeToken)
		if r.URL.Path == "/import" {
			fmt.Fprintf(w, `{"imported":0,"skipped":0,"linked":1,"event_ids":["e1"],"consistency_token":%q}`, f.writeToken)
			return
		}
		fmt.Fprintf(w, `{"ok":true,"coord":[1],"event_ids":["e1"],"consistency_token":%q}`, f.writeToken)
	default:
		f.t.Errorf("unexpected %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusNotFound)
	}
}

func sessionToken(t *testing.T, positions map[int32]int64) string {
	t.Helper()
	tok := consistency.Token{Source: consistency.EventLogSource}
	for p, o := range positions {
		tok.Add(p, o)
	}
	return tok.Encode()
}

func writeSession(t *testing.T, path, tok string) {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"consistency_token": tok, "saved_at": time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readSession(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Token string `json:"consistency_token"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f.Token
}

func TestCLISession(t *testing.T) {
	for _, v := range []string{"SOMA_URL", "SOMA_QUERY_URL", "SOMA_API_TOKEN", "SOMA_MEMORY_NAMESPACE"} {
		t.Setenv(v, "")
	}
	setup := func(t *testing.T, f *fakeService) (run func(args ...string) result, session string) {
		f.t = t
		srv := httptest.NewServer(f)
		t.Cleanup(srv.Close)
		session = filepath.Join(t.TempDir(), "session.json")
		return func(args ...string) result {
			var stdout, stderr bytes.Buffer
			full := append(args, "--url", srv.URL, "--session-file", session)
			code := runWith(context.Background(), full, strings.NewReader(""), &stdout, &stderr)
			return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
		}, session
	}
	saved := sessionToken(t, map[int32]int64{0: 99})

	t.Run("a_lag_on_the_session_token_drops_it_with_a_warning_and_reads_again", func(t *testing.T) {
		f := &fakeService{lag: true}
		run, session := setup(t, f)
		writeSession(t, session, saved)
		r := run("stats")
		if r.code != 0 || !strings.Contains(r.stdout, `"total_memories":1`) {
			t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
		if !strings.HasPrefix(r.stderr, "warning: ") || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, session) {
			t.Fatalf("stderr %q", r.stderr)
		}
		if len(f.readTokens) != 2 || f.readTokens[0] != saved || f.readTokens[1] != "" {
			t.Fatalf("read tokens %q", f.readTokens)
		}
		if _, err := os.Stat(session); !os.IsNotExist(err) {
			t.Fatalf("session kept: %v", err)
		}
	})
	t.Run("an_outage_keeps_the_session_and_fails_the_read", func(t *testing.T) {
		f := &fakeService{outage: true}
		run, session := setup(t, f)
		writeSession(t, session, saved)
		r := run("stats")
		if r.code != 1 || !strings.Contains(r.stderr, "503") || strings.Contains(r.stderr, "warning") {
			t.Fatalf("exit %d stderr %q", r.code, r.stderr)
		}
		if len(f.readTokens) != 1 {
			t.Fatalf("retried: %q", f.readTokens)
		}
		if got := readSession(t, session); got != saved {
			t.Fatalf("session %q, want %q kept", got, saved)
		}
	})
	t.Run("a_lag_on_a_token_of_this_invocations_write_is_an_error", func(t *testing.T) {
		f := &fakeService{lag: true, writeToken: sessionToken(t, map[int32]int64{0: 100})}
		f.t = t
		srv := httptest.NewServer(f)
		defer srv.Close()
		session := filepath.Join(t.TempDir(), "session.json")
		writeSession(t, session, saved)
		var stderr bytes.Buffer
		cmd := &cobra.Command{}
		cmd.SetErr(&stderr)
		e, err := connect(cmd, &clientFlags{url: srv.URL, session: session, timeout: time.Minute, output: outputJSON})
		if err != nil {
			t.Fatal(err)
		}
		defer e.client.Close()
		if _, err := e.client.Store(context.Background(), soma.StoreRequest{Coordinate: soma.Coordinate{1}}); err != nil {
			t.Fatal(err)
		}
		_, err = read(context.Background(), e, e.client.Stats)
		if !errors.Is(err, soma.ErrConsistencyLag) || stderr.Len() != 0 || len(f.readTokens) != 1 {
			t.Fatalf("err %v stderr %q reads %q", err, stderr.String(), f.readTokens)
		}
		if got := readSession(t, session); got != saved {
			t.Fatalf("session %q, want %q kept", got, saved)
		}
	})
	t.Run("saving_merges_a_token_saved_meanwhile_by_another_invocation", func(t *testing.T) {
		other := sessionToken(t, map[int32]int64{1: 7})
		f := &fakeService{writeToken: sessionToken(t, map[int32]int64{0: 5})}
		run, session := setup(t, f)
		f.duringWrite = func() { writeSession(t, session, other) }
		if r := run("store", "--coord", "1", "--payload", "{}"); r.code != 0 {
			t.Fatalf("exit %d stderr %q", r.code, r.stderr)
		}
		if got, want := readSession(t, session), sessionToken(t, map[int32]int64{0: 5, 1: 7}); got != want {
			t.Fatalf("session %q, want the merge %q", got, want)
		}
		if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(session), ".session-*")); len(matches) != 0 {
			t.Fatalf("temporary files left: %v", matches)
		}
	})
	t.Run("an_import_of_links_only_keeps_its_token", func(t *testing.T) {
		f := &fakeService{writeToken: sessionToken(t, map[int32]int64{0: 3})}
		run, session := setup(t, f)
		file := filepath.Join(t.TempDir(), "links.ndjson")
		if err := os.WriteFile(file, []byte(`{"link":{"from":[1],"to":[2],"type":"related","weight":1}}`+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := run("import-memories", "--path", file)
		if r.code != 0 || !strings.Contains(r.stdout, `"linked":1`) {
			t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
		if got := readSession(t, session); got != f.writeToken {
			t.Fatalf("session %q, want %q", got, f.writeToken)
		}
	})
}

func TestCLIUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"unknown_command_exits_2", []string{"bogus"}, 2, `unknown command "bogus" for "soma"`},
		{"misspelt_command_suggests_the_right_one", []string{"stat"}, 2, "did you mean stats?"},
		{"unknown_subcommand_of_a_group_exits_2", []string{"config", "bogus"}, 2, `unknown command "bogus" for "soma config"`},
		{"unknown_subcommand_of_a_group_with_args_exits_2", []string{"bench", "bogus"}, 2, `unknown command "bogus" for "soma bench"`},
		{"extra_argument_to_a_no_args_command_exits_2", []string{"version", "extra"}, 2, "extra"},
		{"extra_argument_to_a_nested_command_exits_2", []string{"config", "env-example", "extra"}, 2, "extra"},
		{"missing_argument_to_an_exact_args_command_exits_2", []string{"healthcheck"}, 2, "accepts 1 arg"},
		{"extra_argument_to_a_client_command_exits_2", []string{"stats", "extra"}, 2, "unexpected argument"},
		{"unknown_flag_exits_2", []string{"--bogus"}, 2, "unknown flag"},
		{"bad_url_is_shown_without_its_password", []string{"stats", "--no-session", "--url", "ftp://admin:hunter2@example.com"}, 2, "ftp://admin:xxxxx@example.com"},
		{"no_command_prints_help", nil, 0, ""},
		{"a_group_alone_prints_its_help", []string{"config"}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runWith(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout %q\nstderr %q", code, tc.code, stdout.String(), stderr.String())
			}
			if tc.code == 0 {
				if !strings.Contains(stdout.String(), "Usage:") || stderr.Len() != 0 {
					t.Fatalf("stdout %q stderr %q", stdout.String(), stderr.String())
				}
				return
			}
			if !strings.HasPrefix(stderr.String(), "error: ") || !strings.Contains(stderr.String(), tc.stderr) || strings.Contains(stderr.String(), "hunter2") || stdout.Len() != 0 {
				t.Fatalf("stdout %q stderr %q (want %q)", stdout.String(), stderr.String(), tc.stderr)
			}
		})
	}
}
