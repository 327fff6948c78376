package embedded_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/projections/embedded"
)

// Environment of the helper process (a re-run of this test binary).
const (
	helperDirEnv   = "SOMA_EMBEDDED_HELPER_DIR"
	helperStartEnv = "SOMA_EMBEDDED_HELPER_START"
)

const (
	killBatchSize = 300 // memories per store_bulk
	killDim       = 64
)

// bulkBatch is store_bulk number b: killBatchSize memories at (b, i), each
// linked to the next, as one Append.
func bulkBatch(g *gen, rng *rand.Rand, b int) []domain.Event {
	evs := make([]domain.Event, 0, 2*killBatchSize)
	for i := range killBatchSize {
		v := make([]float32, killDim)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		st := g.store(ns, c(float64(b), float64(i)), fmt.Sprintf(`{"batch":%d,"i":%d}`, b, i), v)
		st.EmbeddingModel = "kill/64"
		evs = append(evs, st)
	}
	for i := range killBatchSize - 1 {
		evs = append(evs, g.link(ns, c(float64(b), float64(i)), c(float64(b), float64(i+1)), "next", 1))
	}
	return evs
}

// TestHelperProcess is not a test: run by TestKilledDuringBulkStoreIsAllOrNothing
// as a child process, it appends bulk batches to the store in
// $SOMA_EMBEDDED_HELPER_DIR until it is killed, printing "begin <batch>"
// before each Append and "committed <batch> <position>" after it.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		return
	}
	start, err := strconv.Atoi(os.Getenv(helperStartEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	s, err := embedded.Open(ctx, testConfig(dir))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	rng := rand.New(rand.NewPCG(uint64(start), 1))
	var g gen
	for b := start; b < start+10000; b++ {
		evs := bulkBatch(&g, rng, b)
		fmt.Printf("begin %d\n", b)
		tok, err := s.Append(ctx, evs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		fmt.Printf("committed %d %d\n", b, tok.Positions[0])
	}
	os.Exit(0)
}

// TestKilledDuringBulkStoreIsAllOrNothing kills (SIGKILL) a process in the
// middle of a stream of store_bulk appends, several times, and checks
// after each restart that every batch is either fully present (records,
// vectors, links, log rows, counts) or fully absent, that every batch the
// process reported as committed is there, and that the vector index holds
// exactly what SQLite holds.
func TestKilledDuringBulkStoreIsAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	committed := map[int]bool{}
	next := 0
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round := range 4 {
		reported, begun := runUntilKilled(t, dir, next, 1+round%2, rng)
		for _, b := range reported {
			committed[b] = true
		}

		s, err := embedded.Open(ctxT(t), testConfig(dir))
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		batches := checkBulkBatches(t, s)
		for b := range committed {
			if batches[b] != killBatchSize {
				t.Fatalf("round %d: batch %d was reported committed but has %d memories", round, b, batches[b])
			}
		}
		next = 0
		for b := range batches {
			next = max(next, b+1)
		}
		t.Logf("round %d: killed during batch %d after %d reported; %d batches present, batch %d present: %v",
			round, begun, len(reported), len(batches), begun, batches[begun] > 0)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// runUntilKilled starts the helper on dir, waits until it reported n
// committed batches and began the next one, lets that one run for a
// random part of the time the previous batch took (so that the kill lands
// at a different point of the append each time; the delay only picks the
// moment, nothing waits on it) and kills it with SIGKILL. It returns the batches reported as
// committed and the batch in progress.
func runUntilKilled(t *testing.T, dir string, start, n int, rng *rand.Rand) (reported []int, begun int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperDirEnv+"="+dir, helperStartEnv+"="+strconv.Itoa(start))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	begun = -1
	var (
		last     time.Time
		duration time.Duration // of the last whole batch, line to line
	)
	for sc.Scan() {
		var b int
		var pos int64
		if _, err := fmt.Sscanf(sc.Text(), "committed %d %d", &b, &pos); err == nil {
			if !last.IsZero() {
				duration = time.Since(last)
			}
			last = time.Now()
			reported = append(reported, b)
		} else if _, err := fmt.Sscanf(sc.Text(), "begin %d", &b); err == nil && len(reported) == n {
			begun = b
			break
		}
	}
	if begun >= 0 && duration > 0 {
		<-time.After(time.Duration(rng.Int64N(int64(duration))))
	}
	killErr := cmd.Process.Kill() // SIGKILL
	_ = cmd.Wait()
	if begun < 0 {
		t.Fatalf("helper reported %d batches before it stopped (%v, kill: %v); stderr:\n%s", len(reported), ctx.Err(), killErr, stderr.String())
	}
	return reported, begun
}

// checkBulkBatches checks the store against the all-or-nothing rule and
// returns the number of memories of each batch present.
func checkBulkBatches(t *testing.T, s *embedded.Store) map[int]int {
	t.Helper()
	ctx := ctxT(t)
	batches := map[int]int{}
	keys := map[int][]string{}
	total := 0
	err := s.Export(ctx, ns, func(m domain.Memory) error {
		b, err := strconv.Atoi(string(m.Payload["batch"].(json.Number)))
		if err != nil {
			return err
		}
		batches[b]++
		keys[b] = append(keys[b], m.Coordinate.Key())
		total++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for b, ks := range keys {
		edges, err := s.OutEdges(ctx, ns, ks, "")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(edges); n != killBatchSize-1 {
			t.Fatalf("batch %d: %d memories have links, want %d", b, n, killBatchSize-1)
		}
	}
	for b, n := range batches {
		if n != killBatchSize {
			t.Fatalf("batch %d is half there: %d of %d memories", b, n, killBatchSize)
		}
	}
	if tot, _, _, err := s.Counts(ctx, ns); err != nil || tot != int64(total) {
		t.Fatalf("Counts = %d (%v), want %d", tot, err, total)
	}
	events := len(batches) * (2*killBatchSize - 1)
	envs, err := s.Events(ctx, 0, 1<<30)
	if err != nil || len(envs) != events {
		t.Fatalf("event_log has %d rows (%v), want %d", len(envs), err, events)
	}
	pos, _ := s.Positions(ctx, consistency.EventLogSource)
	if events > 0 && pos[0] != envs[len(envs)-1].Offset {
		t.Fatalf("event_log checkpoint %d, last row %d", pos[0], envs[len(envs)-1].Offset)
	}
	if s.IndexLen() != total {
		t.Fatalf("index holds %d vectors, %d memories are stored", s.IndexLen(), total)
	}
	checkIndex(t, s)
	return batches
}
