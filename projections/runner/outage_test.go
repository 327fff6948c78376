//go:build outage

// The outage test stops the shared PostgreSQL server, so it runs on its
// own after the other suites: `make test` runs it as a second phase.
package runner_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/testenv"
	"github.com/somafractalmemory/soma/projections/runner"
	"github.com/somafractalmemory/soma/schemas"
)

func pgCtl(t *testing.T, args ...string) {
	t.Helper()
	data := testenv.Optional(testenv.PostgresDataDirVar)
	ctl := testenv.Optional(testenv.PgCtlVar)
	if data == "" || ctl == "" {
		t.Fatalf("%s and %s must be set (scripts/test-services.sh writes them)", testenv.PostgresDataDirVar, testenv.PgCtlVar)
	}
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--", ctl, "-D", data, "-l", filepath.Join(filepath.Dir(data), "postgres.log"), "-w", "-t", "60"}, args...)...)
	cmd.Dir = filepath.Dir(data)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl %v: %v\n%s", args, err, out)
	}
}

// TestOutagePostgresStoppedAndRestartedDuringProjection: no event is lost
// or applied twice when the read model's database goes away mid-stream.
func TestOutagePostgresStoppedAndRestartedDuringProjection(t *testing.T) {
	e := newEnv(t)
	ns := "o" + uuid.NewString()[:6]
	const n = 3000
	for start := 0; start < n; start += 500 {
		var evs []domain.Event
		for i := start; i < start+500; i++ {
			evs = append(evs, stored(e, ns, i))
		}
		if _, err := e.pub.Append(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
	}
	ccfg, _ := e.settings.Consumer()
	client, err := sarama.NewClient(e.brokers, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(e.proj, client, e.codec, schemas.Permanent, dlqSink{e.raw, e.dlq}, e.metrics,
		runner.Config{Topic: e.topic, Group: "outage-" + uuid.NewString()[:6], BatchSize: 50, BatchWait: time.Millisecond,
			RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond, StallAfter: 100 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	defer func() { cancel(); <-done; _ = r.Close(); _ = client.Close() }()

	// Stop the database once projection is under way.
	deadline := time.Now().Add(60 * time.Second)
	for {
		total, _, _, _ := e.proj.Counts(context.Background(), ns)
		if total > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("projection did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	pgCtl(t, "-m", "fast", "stop")
	restarted := false
	defer func() {
		if !restarted {
			pgCtl(t, "start")
		}
	}()
	for r.Ready() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the runner did not notice the database was gone")
		}
		time.Sleep(10 * time.Millisecond)
	}
	pgCtl(t, "start")
	restarted = true

	deadline = time.Now().Add(90 * time.Second)
	for {
		total, _, _, err := e.proj.Counts(context.Background(), ns)
		if err == nil && total == n && r.Ready() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart the namespace holds %d memories (err %v), want %d", total, err, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var logged, maxVersion int64
	if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+e.proj.Schema()+".event_log WHERE namespace = $1", ns).Scan(&logged); err != nil {
		t.Fatal(err)
	}
	if err := e.pool.QueryRow(context.Background(), "SELECT max(version) FROM "+e.proj.Schema()+".records WHERE namespace = $1", ns).Scan(&maxVersion); err != nil {
		t.Fatal(err)
	}
	if logged != n || maxVersion != 1 {
		t.Fatalf("event_log holds %d events and the highest version is %d; want %d and 1 (nothing lost, nothing applied twice)", logged, maxVersion, n)
	}
}
