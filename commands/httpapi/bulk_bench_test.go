package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/commands/httpapi"
	"github.com/somafractalmemory/soma/internal/embedding"
	"github.com/somafractalmemory/soma/internal/httpx"
)

func BenchmarkStoreBulk1000(b *testing.B) {
	s := &sink{}
	app := commands.NewApplication(commands.Deps{Sink: s, Directory: dir{}, Embedder: embedding.NewHashing(384)})
	cfg := httpx.DefaultConfig()
	cfg.RateLimit.Max = 0
	cfg.MaxBodyBytes = 64 << 20
	srv, _ := httpx.New(cfg, httpx.Deps{Registry: prometheus.NewRegistry(), OpenAPI: httpapi.OpenAPI()})
	httpapi.Register(srv.API, app, httpapi.Options{})
	var sb strings.Builder
	sb.WriteString(`{"items":[`)
	for i := 0; i < 1000; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"coord":"%d,1,2","payload":{"text":"the quick brown fox jumps over the lazy dog number %d with some more words here","importance":%d,"tags":["a","b"]}}`, i, i, i%10)
	}
	sb.WriteString("]}")
	body := sb.String()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.events = s.events[:0]
		req := httptest.NewRequest(http.MethodPost, "/store_bulk", strings.NewReader(body))
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "memories/s")
}
