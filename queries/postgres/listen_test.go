package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/somafractalmemory/soma/queries/postgres"
)

const waitFor = 15 * time.Second

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func awaitSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: channel closed", what)
		}
	case <-time.After(waitFor):
		t.Fatalf("%s: no signal within %s", what, waitFor)
	}
}

// listenerPID is the backend of the listener connection of application
// app, or 0 when none listens.
func listenerPID(t *testing.T, f *fixture, app string) int32 {
	t.Helper()
	var pid int32
	err := f.pool.QueryRow(context.Background(), `
SELECT coalesce(max(pid), 0) FROM pg_stat_activity
WHERE application_name = $1 AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`, app).Scan(&pid)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestListenPositions(t *testing.T) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	app := "soma_listen_test_" + hex.EncodeToString(b[:])
	f := newFixture(t, func(c *pgxpool.Config) { c.ConnConfig.RuntimeParams["application_name"] = app })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := postgres.ListenPositions(ctx, f.pool)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("signals_after_a_commit", func(t *testing.T) {
		drain(ch)
		f.apply(f.stored("ns", coord(1), `{}`))
		awaitSignal(t, ch, "after Apply")
	})

	t.Run("reconnects_when_the_connection_dies", func(t *testing.T) {
		pid := listenerPID(t, f, app)
		if pid == 0 {
			t.Fatal("no listener connection found")
		}
		var ok bool
		if err := f.pool.QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", pid).Scan(&ok); err != nil || !ok {
			t.Fatalf("terminate %d: %v %v", pid, ok, err)
		}
		deadline := time.After(waitFor)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for p := listenerPID(t, f, app); p == 0 || p == pid; p = listenerPID(t, f, app) {
			select {
			case <-deadline:
				t.Fatalf("no new listener within %s", waitFor)
			case <-tick.C:
			}
		}
		// A reconnection is signalled: notifications may have been lost.
		awaitSignal(t, ch, "after reconnecting")
		drain(ch)
		f.apply(f.stored("ns", coord(2), `{}`))
		awaitSignal(t, ch, "after Apply on the new connection")
	})

	t.Run("closes_when_the_context_ends", func(t *testing.T) {
		cancel()
		deadline := time.After(waitFor)
		for {
			select {
			case _, ok := <-ch:
				if !ok {
					return
				}
			case <-deadline:
				t.Fatal("channel still open after cancel")
			}
		}
	})
}
