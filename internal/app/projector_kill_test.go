package app

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/config"
	"github.com/somafractalmemory/soma/internal/consistency"
)

// TestHelperProjector is not a test: the kill test re-executes the test
// binary with SOMA_HELPER_PROJECTOR=1 to run the projector (as `soma projector` does) as a child
// process it can SIGKILL.
func TestHelperProjector(t *testing.T) {
	if os.Getenv("SOMA_HELPER_PROJECTOR") != "1" {
		t.Skip("helper process for TestProjectorKilledAndRestarted")
	}
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	rt := New(cfg, "test")
	err = rt.RunProjector(context.Background(), fmt.Sprintf(":%d", cfg.Projection.MetricsPort))
	rt.Close()
	if err != nil {
		t.Fatal(err)
	}
	os.Exit(0)
}

func startProjector(t *testing.T, env map[string]string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProjector$")
	cmd.Env = append(os.Environ(), "SOMA_HELPER_PROJECTOR=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// snapshot is the observable state of the three read models.
type snapshot struct {
	Records []string // namespace/key/type/version/importance_norm/payload
	Links   []string
	Counts  []string // postgres and redis counts per namespace
	Points  map[string]int64
}

func takeSnapshot(t *testing.T, rt *Runtime, models readModels, namespaces []string) snapshot {
	t.Helper()
	ctx := context.Background()
	pool, err := rt.postgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var s snapshot
	schema := rt.cfg.Postgres.Schema
	rows, err := pool.Query(ctx, fmt.Sprintf(`SELECT namespace||'/'||coord_key||'/'||memory_type||'/'||version||'/'||importance_norm||'/'||payload::text FROM %s.records ORDER BY 1`, schema))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r string
		_ = rows.Scan(&r)
		s.Records = append(s.Records, r)
	}
	rows, err = pool.Query(ctx, fmt.Sprintf(`SELECT namespace||'/'||from_key||'>'||to_key||'/'||link_type||'/'||weight FROM %s.links ORDER BY namespace, from_key, seq`, schema))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r string
		_ = rows.Scan(&r)
		s.Links = append(s.Links, r)
	}
	s.Points = map[string]int64{}
	for _, ns := range namespaces {
		pt, pe, ps, err := models.postgres.Counts(ctx, ns)
		if err != nil {
			t.Fatal(err)
		}
		rtot, re, rs, err := models.redis.Counts(ctx, ns)
		if err != nil {
			t.Fatal(err)
		}
		s.Counts = append(s.Counts, fmt.Sprintf("%s pg=%d/%d/%d redis=%d/%d/%d", ns, pt, pe, ps, rtot, re, rs))
		qt, _, _, err := models.qdrant.Counts(ctx, ns)
		if err != nil {
			t.Fatal(err)
		}
		s.Points[ns] = qt
	}
	return s
}

// caughtUp waits until every read model applied tok.
func caughtUp(t *testing.T, models readModels, topic string, tok consistency.Token, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		behind := 0
		for _, p := range models.all() {
			pos, err := p.Positions(context.Background(), topic)
			if err != nil || len(tok.Missing(pos)) > 0 {
				behind++
			}
		}
		if behind == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d read models did not catch up within %s", behind, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestProjectorKilledAndRestarted: a projector process killed with SIGKILL
// mid-stream and restarted ends with exactly the state of an
// uninterrupted run.
func TestProjectorKilledAndRestarted(t *testing.T) {
	base := evented(t)
	base["CONSUMER_METRICS_PORT"] = "0"
	base["SOMA_PROJECTION_BATCH_SIZE"] = "50"
	ctx := context.Background()

	// Write the log once through the real publisher.
	cfg, err := config.Load(config.MapLookup(base))
	if err != nil {
		t.Fatal(err)
	}
	writer := New(cfg, "test")
	defer writer.Close()
	codec, err := writer.registryCodec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := writer.publisher(ctx, codec)
	if err != nil {
		t.Fatal(err)
	}
	emb, _ := writer.embedder()
	namespaces := []string{"ka", "kb"}
	var tok consistency.Token
	for round := 0; round < 20; round++ {
		var events []domain.Event
		for i := 0; i < 100; i++ {
			ns := namespaces[i%2]
			coord := domain.MustCoordinate(float64((round*37 + i) % 300))
			meta := domain.EventMeta{EventID: uuid.NewString(), Namespace: ns, OccurredAt: time.Unix(1700000000+int64(round*100+i), 0).UTC()}
			switch {
			case i%17 == 0:
				events = append(events, domain.MemoryDeleted{EventMeta: meta, Coordinate: coord})
			case i%11 == 0:
				events = append(events, domain.MemoriesLinked{EventMeta: meta, From: coord, To: domain.MustCoordinate(float64(i)), LinkType: "rel", Weight: float64(i)})
			default:
				text := fmt.Sprintf("memory %d of round %d", i, round)
				vec, _ := emb.Embed(ctx, []string{text})
				typ := domain.Episodic
				if i%3 == 0 {
					typ = domain.Semantic
				}
				events = append(events, domain.MemoryStored{EventMeta: meta, Coordinate: coord, Payload: []byte(fmt.Sprintf(`{"text":%q}`, text)),
					Type: typ, ImportanceNorm: 0.5, Embedding: vec[0], EmbeddingModel: emb.Model()})
			}
		}
		tk, err := pub.Append(ctx, events)
		if err != nil {
			t.Fatal(err)
		}
		if tok, err = tok.Merge(tk); err != nil {
			t.Fatal(err)
		}
	}

	// Two sets of read models over the same topic: one fed by a projector
	// killed mid-stream and restarted, one by an uninterrupted projector.
	variant := func(suffix string) map[string]string {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		env["SOMA_POSTGRES_SCHEMA"] += suffix
		env["SOMA_REDIS_PREFIX"] += suffix
		env["QDRANT_COLLECTION"] += suffix
		env["KAFKA_CONSUMER_GROUP"] += suffix
		return env
	}
	killedEnv, cleanEnv := variant("k"), variant("c")
	open := func(env map[string]string) (*Runtime, readModels) {
		cfg, err := config.Load(config.MapLookup(env))
		if err != nil {
			t.Fatal(err)
		}
		rt := New(cfg, "test")
		t.Cleanup(rt.Close)
		models, err := rt.externalReadModels(ctx, codec, true)
		if err != nil {
			t.Fatal(err)
		}
		return rt, models
	}
	killedRT, killed := open(killedEnv)
	cleanRT, clean := open(cleanEnv)

	first := startProjector(t, killedEnv)
	deadline := time.Now().Add(60 * time.Second)
	for {
		pos, _ := killed.postgres.Positions(ctx, base["KAFKA_MEMORY_EVENTS_TOPIC"])
		applied := int64(0)
		for _, o := range pos {
			applied += o + 1
		}
		if applied > 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first projector applied nothing")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	startProjector(t, killedEnv)
	startProjector(t, cleanEnv)
	topic := base["KAFKA_MEMORY_EVENTS_TOPIC"]
	caughtUp(t, killed, topic, tok, 120*time.Second)
	caughtUp(t, clean, topic, tok, 120*time.Second)

	a := takeSnapshot(t, killedRT, killed, namespaces)
	b := takeSnapshot(t, cleanRT, clean, namespaces)
	if len(a.Records) == 0 || len(a.Links) == 0 {
		t.Fatalf("nothing projected: %d records, %d links", len(a.Records), len(a.Links))
	}
	if !reflect.DeepEqual(a.Links, b.Links) {
		inA := map[string]bool{}
		for _, l := range a.Links {
			inA[l] = true
		}
		for _, l := range b.Links {
			if !inA[l] {
				t.Logf("only in the uninterrupted run: %s", l)
			}
			delete(inA, l)
		}
		for l := range inA {
			t.Logf("only in the killed run: %s", l)
		}
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("killed-and-restarted state differs from the uninterrupted run:\nrecords %d vs %d\nlinks %d vs %d\ncounts %v vs %v\npoints %v vs %v",
			len(a.Records), len(b.Records), len(a.Links), len(b.Links), a.Counts, b.Counts, a.Points, b.Points)
	}
	t.Logf("state after kill and restart equals the uninterrupted run: %d records, %d links, %s", len(a.Records), len(a.Links), strings.Join(a.Counts, "; "))
}
