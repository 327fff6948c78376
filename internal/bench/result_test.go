package bench

import (
	"bytes"
	"encoding/json"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

func sampleResult() *Result {
	r := newResult("ingest", map[string]any{"n": 100, "batch": 10})
	r.Stop = StopCompleted
	r.Throughput.Memories = 100
	r.Latency = Summarize(msList(1, 2, 3, 4))
	var errs tally
	errs.status(routeStoreBulk, 429)
	errs.add(routeStoreBulk, kindTransport)
	r.finish(2*time.Second, 12, &errs)
	return r
}

func TestResultJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleResult().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}

	t.Run("has_the_documented_top_level_keys", func(t *testing.T) {
		for _, k := range []string{"command", "config", "machine", "stop", "throughput", "latency", "errors", "misses"} {
			if _, ok := got[k]; !ok {
				t.Errorf("missing %q in %s", k, buf.String())
			}
		}
	})
	t.Run("describes_the_machine", func(t *testing.T) {
		m := got["machine"].(map[string]any)
		if m["cpus"].(float64) != float64(runtime.NumCPU()) || m["gomaxprocs"].(float64) < 1 || m["go_version"] != runtime.Version() {
			t.Fatalf("machine = %v", m)
		}
	})
	t.Run("latency_in_milliseconds", func(t *testing.T) {
		l := got["latency"].(map[string]any)
		if l["p50"] != 2.0 || l["p90"] != 4.0 || l["p99"] != 4.0 || l["max"] != 4.0 {
			t.Fatalf("latency = %v", l)
		}
	})
	t.Run("rates_per_second_of_elapsed", func(t *testing.T) {
		th := got["throughput"].(map[string]any)
		if th["requests_per_second"] != 6.0 || th["memories_per_second"] != 50.0 || th["elapsed_seconds"] != 2.0 {
			t.Fatalf("throughput = %v", th)
		}
	})
	t.Run("errors_by_route_and_status", func(t *testing.T) {
		e := got["errors"].(map[string]any)
		if e["/store_bulk 429"] != 1.0 || e["/store_bulk transport"] != 1.0 || len(e) != 2 {
			t.Fatalf("errors = %v", e)
		}
	})
	t.Run("explains_rate_limits_and_unanswered_requests", func(t *testing.T) {
		if !strings.Contains(buf.String(), "SOMA_RATE_LIMIT_MAX=0") || !strings.Contains(buf.String(), "1 requests got no answer") {
			t.Fatalf("no rate-limit note in %s", buf.String())
		}
	})
	t.Run("no_errors_is_an_empty_object_not_null", func(t *testing.T) {
		r := newResult("recall", nil)
		r.finish(time.Second, 1, &tally{})
		var b bytes.Buffer
		_ = r.WriteJSON(&b)
		if !strings.Contains(b.String(), `"errors": {}`) {
			t.Fatalf("got %s", b.String())
		}
	})
}

// columns separates the two columns of a table row (tabwriter pads with
// at least two spaces).
var columns = regexp.MustCompile(`\s{2,}`)

func TestResultTable(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleResult().WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	rows := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := columns.Split(line, 2)
		if len(f) != 2 {
			t.Fatalf("row without a value: %q", line)
		}
		rows[f[0]] = f[1]
	}
	for k, want := range map[string]string{
		"measure": "value", "command": "ingest", "config.n": "100", "stop": "completed",
		"requests/s": "6", "memories/s": "50", "latency.p50_ms": "2", "latency.p99_ms": "4",
		"errors[/store_bulk 429]": "1", "errors[/store_bulk transport]": "1", "misses": "0",
	} {
		if rows[k] != want {
			t.Errorf("row %q = %q, want %q\n%s", k, rows[k], want, out)
		}
	}
}
