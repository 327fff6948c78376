package qdrantfake

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"

	"github.com/somafractalmemory/soma/internal/testenv"
)

// Start serves a new double on a loopback port for the duration of the
// test and returns its address.
func Start(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("qdrantfake: listen: %v", err)
	}
	s := New()
	done := make(chan error, 1)
	go func() { done <- s.Serve(lis) }()
	t.Cleanup(func() {
		s.Stop()
		if err := <-done; err != nil {
			t.Errorf("qdrantfake: %v", err)
		}
	})
	return lis.Addr().String()
}

// Connect returns a client of the Qdrant at addr, closed when the test
// ends.
func Connect(t testing.TB, addr string) *qdrant.Client {
	t.Helper()
	cfg, err := SplitAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg.PoolSize = 1
	cfg.SkipCompatibilityCheck = true
	client, err := qdrant.NewClient(cfg)
	if err != nil {
		t.Fatalf("qdrant client for %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// Backend is a Qdrant a test can run against.
type Backend struct {
	// Name is "double" or "qdrant"; use it as the subtest name.
	Name string
	// Real is true for a real Qdrant: it is shared, so tests must use
	// UniqueName for collections and delete what they create.
	Real bool
	addr string
}

// Client starts the backend (for the double) and returns a client of it.
func (b Backend) Client(t testing.TB) *qdrant.Client {
	t.Helper()
	addr := b.addr
	if !b.Real {
		addr = Start(t)
	}
	return Connect(t, addr)
}

// Backends returns the double, plus the real Qdrant named by
// SOMA_TEST_QDRANT_URL (its gRPC address, e.g. localhost:6334) when set.
// A real Qdrant is never required: without it the test says so in its log.
func Backends(t testing.TB) []Backend {
	t.Helper()
	out := []Backend{{Name: "double"}}
	if addr := testenv.Optional(testenv.QdrantURLVar); addr != "" {
		out = append(out, Backend{Name: "qdrant", Real: true, addr: addr})
	} else {
		t.Logf("real Qdrant not configured (%s unset): running against the double only", testenv.QdrantURLVar)
	}
	return out
}

var uniqueSeq atomic.Uint64

// UniqueName returns a collection name unlikely to clash with another
// test run on a shared Qdrant: prefix, the test name and a sequence.
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, t.Name())
	if len(name) > 60 {
		name = name[len(name)-60:]
	}
	return fmt.Sprintf("%s_%s_%d_%d", prefix, name, time.Now().UnixNano()%1e9, uniqueSeq.Add(1))
}
