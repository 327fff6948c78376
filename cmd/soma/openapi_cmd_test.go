package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/somafractalmemory/soma/internal/app"
	"github.com/somafractalmemory/soma/internal/config"
)

// committedOpenAPI is the repository's openapi.json, relative to this
// package's directory (where go test runs).
const committedOpenAPI = "../../openapi.json"

// TestOpenAPICommand: `soma openapi` prints the committed openapi.json,
// and each --api value a valid document of its API.
func TestOpenAPICommand(t *testing.T) {
	want, err := os.ReadFile(committedOpenAPI)
	if err != nil {
		t.Fatalf("read the committed document: %v", err)
	}
	t.Run("default_output_is_the_committed_openapi_json", func(t *testing.T) {
		got := runOpenAPI(t)
		if !bytes.Equal(got, want) {
			t.Fatalf("openapi.json differs from `soma openapi` (%d bytes, want %d): run `make openapi` and commit it", len(want), len(got))
		}
	})
	t.Run("all_is_the_default", func(t *testing.T) {
		if got := runOpenAPI(t, "--api", "all"); !bytes.Equal(got, want) {
			t.Fatal("--api all differs from the default output")
		}
	})
	for _, tt := range []struct{ api, path string }{
		{"write", "/store"},
		{"query", "/recall"},
	} {
		t.Run(tt.api+"_document_lists_its_routes", func(t *testing.T) {
			got := runOpenAPI(t, "--api", tt.api)
			if !bytes.Contains(got, []byte(`"`+tt.path+`"`)) || !bytes.Contains(got, []byte(`"/healthz"`)) {
				t.Fatalf("--api %s lacks %s or /healthz", tt.api, tt.path)
			}
		})
	}
	t.Run("rejects_unknown_api", func(t *testing.T) {
		var out, errOut bytes.Buffer
		code := runWith(context.Background(), []string{"openapi", "--api", "admin"}, strings.NewReader(""), &out, &errOut)
		if code != exitUsage || !strings.Contains(errOut.String(), "admin") {
			t.Fatalf("exit %d, stderr %q; want %d and a message naming the value", code, errOut.String(), exitUsage)
		}
	})
}

// TestOpenAPIServed: what soma serve returns on GET /openapi.json, on
// both of its ports, is what `soma openapi` prints (so the committed file
// is what the API serves).
func TestOpenAPIServed(t *testing.T) {
	cfg, err := config.Load(config.MapLookup(map[string]string{
		"SOMA_DATA_DIR":  t.TempDir(),
		"SOMA_LOG_LEVEL": "error",
	}))
	if err != nil {
		t.Fatal(err)
	}
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	queryLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rt := app.New(cfg, version)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Serve(ctx, apiLn, queryLn, nil); rt.Close() }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})

	for _, tt := range []struct {
		port string
		ln   net.Listener
		api  string
	}{
		{"write_and_query_port", apiLn, "all"},
		{"query_port", queryLn, "query"},
	} {
		t.Run(tt.port+"_serves_"+tt.api, func(t *testing.T) {
			served := getWhenUp(t, "http://"+tt.ln.Addr().String()+"/openapi.json", done)
			printed := runOpenAPI(t, "--api", tt.api)
			if !bytes.Equal(append(served, '\n'), printed) {
				t.Fatalf("GET /openapi.json (%d bytes) differs from `soma openapi --api %s` (%d bytes)", len(served), tt.api, len(printed))
			}
		})
	}
}

// runOpenAPI runs `soma openapi args...` and returns its standard output.
func runOpenAPI(t *testing.T, args ...string) []byte {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := runWith(context.Background(), append([]string{"openapi"}, args...), strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("soma openapi %v: exit %d: %s", args, code, errOut.String())
	}
	return out.Bytes()
}

// getWhenUp polls url until it answers 200 (the server is starting) and
// returns the body; it fails if serve stops or a minute passes.
func getWhenUp(t *testing.T, url string, done <-chan error) []byte {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return body
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within a minute (last error %v)", url, err)
		}
	}
}
