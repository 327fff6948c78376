package idempotency

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/somafractalmemory/soma/internal/testenv"
)

// contract is run against every Store.
func contract(t *testing.T, s Store) {
	ctx := context.Background()
	key := fmt.Sprintf("k-%d", time.Now().UnixNano())
	ttl := time.Minute

	out, _, err := s.Begin(ctx, key, "fp1", ttl)
	if err != nil || out != Proceed {
		t.Fatalf("first Begin = %v, %v; want Proceed", out, err)
	}
	t.Run("concurrent_retry_is_in_progress", func(t *testing.T) {
		out, _, err := s.Begin(ctx, key, "fp1", ttl)
		if err != nil || out != InProgress {
			t.Fatalf("got %v, %v", out, err)
		}
	})
	t.Run("other_request_with_same_key_is_a_mismatch", func(t *testing.T) {
		out, _, err := s.Begin(ctx, key, "fp2", ttl)
		if err != nil || out != Mismatch {
			t.Fatalf("got %v, %v", out, err)
		}
	})
	t.Run("completed_response_is_replayed", func(t *testing.T) {
		want := Response{Status: 200, Header: map[string]string{"X-A": "b"}, Body: []byte(`{"ok":true}`)}
		if err := s.Complete(ctx, key, "fp1", want, ttl); err != nil {
			t.Fatal(err)
		}
		out, got, err := s.Begin(ctx, key, "fp1", ttl)
		if err != nil || out != Replay || got.Status != 200 || string(got.Body) != `{"ok":true}` || got.Header["X-A"] != "b" {
			t.Fatalf("got %v %+v %v", out, got, err)
		}
		if err := s.Release(ctx, key); err != nil {
			t.Fatal(err)
		}
		if out, _, _ := s.Begin(ctx, key, "fp1", ttl); out != Replay {
			t.Fatalf("release must not drop a completed key, got %v", out)
		}
	})
	t.Run("released_reservation_can_be_taken_again", func(t *testing.T) {
		k := key + "-r"
		if out, _, _ := s.Begin(ctx, k, "fp", ttl); out != Proceed {
			t.Fatal("want Proceed")
		}
		if err := s.Release(ctx, k); err != nil {
			t.Fatal(err)
		}
		if out, _, _ := s.Begin(ctx, k, "fp", ttl); out != Proceed {
			t.Fatalf("got %v after release", out)
		}
	})
}

func TestMemory(t *testing.T) {
	contract(t, NewMemory(10, nil))
	t.Run("forgets_least_recently_used_beyond_capacity", func(t *testing.T) {
		m := NewMemory(2, nil)
		ctx := context.Background()
		for _, k := range []string{"a", "b", "c"} {
			_, _, _ = m.Begin(ctx, k, "f", time.Minute)
			_ = m.Complete(ctx, k, "f", Response{Status: 200}, time.Minute)
		}
		if out, _, _ := m.Begin(ctx, "a", "f", time.Minute); out != Proceed {
			t.Fatalf("a should have been evicted, got %v", out)
		}
	})
	t.Run("expires_after_ttl", func(t *testing.T) {
		now := time.Unix(1000, 0)
		m := NewMemory(10, func() time.Time { return now })
		ctx := context.Background()
		_, _, _ = m.Begin(ctx, "k", "f", time.Minute)
		_ = m.Complete(ctx, "k", "f", Response{Status: 200}, time.Minute)
		now = now.Add(61 * time.Second)
		if out, _, _ := m.Begin(ctx, "k", "f", time.Minute); out != Proceed {
			t.Fatalf("got %v after expiry", out)
		}
	})
}

func TestRedis(t *testing.T) {
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	contract(t, NewRedis(client, fmt.Sprintf("test%d", time.Now().UnixNano())))
}
