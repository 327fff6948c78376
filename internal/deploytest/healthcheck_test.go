package deploytest

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"testing"
)

// The container health checks (Dockerfile HEALTHCHECK, compose) run
// `/soma healthcheck URL` because the distroless image has no shell, curl or
// wget. This builds the binary and runs that exact command shape.
func TestSomaHealthcheckCommandGatesOnTheAnswer(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "soma")
	build := exec.Command("go", "build", "-o", bin, "./cmd/soma")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/soma: %v\n%s", err, out)
	}
	status := func(code int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || r.URL.Path != "/healthz" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(code)
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/healthz"
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL + "/healthz"
	closed.Close()

	cases := []struct {
		name    string
		url     string
		healthy bool
	}{
		{"healthy_on_200", status(http.StatusOK), true},
		{"healthy_on_204", status(http.StatusNoContent), true},
		{"unhealthy_on_503", status(http.StatusServiceUnavailable), false},
		{"unhealthy_on_500", status(http.StatusInternalServerError), false},
		{"unhealthy_when_nothing_listens", closedURL, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(bin, "healthcheck", tc.url).CombinedOutput()
			if tc.healthy && err != nil {
				t.Errorf("exit %v, want 0\n%s", err, out)
			}
			if !tc.healthy {
				ee, ok := err.(*exec.ExitError)
				if !ok || ee.ExitCode() != 1 {
					t.Errorf("exit %v, want 1 (unhealthy)\n%s", err, out)
				}
			}
		})
	}
}
