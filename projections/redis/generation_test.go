package redis_test

import (
	"errors"
	"testing"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/projections/redis"
)

func TestPromoteSwitchesTheServingGeneration(t *testing.T) {
	c := testClient(t)
	prefix := freshPrefix(t, c)
	ctx := testCtx(t)
	g := &gen{}

	if cur, err := redis.Current(ctx, c, prefix); err != nil || cur != redis.DefaultGeneration {
		t.Fatalf("Current before any promote = %q, %v; want %q", cur, err, redis.DefaultGeneration)
	}
	serving := redis.New(c, redis.Config{Prefix: prefix})
	mustApply(t, ctx, serving, at(0, 0, g.store("ns", coord(1), domain.Episodic, `{"gen":1}`)))

	// A replay builds g2 beside g1; g1 keeps serving until the switch.
	next := redis.New(c, redis.Config{Prefix: prefix, Generation: "g2"})
	mustApply(t, ctx, next, at(0, 0, g.store("ns", coord(1), domain.Semantic, `{"gen":2}`)))
	if got := mustCounts(t, ctx, serving, "ns"); got != (counts{Total: 1, Episodic: 1}) {
		t.Fatalf("g1 counts = %+v, want untouched by g2", got)
	}
	if err := next.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if cur, err := redis.Current(ctx, c, prefix); err != nil || cur != "g2" {
		t.Fatalf("Current after promote = %q, %v; want g2", cur, err)
	}

	if err := redis.DeleteGeneration(ctx, c, prefix, "g2"); !errors.Is(err, redis.ErrServingGeneration) {
		t.Fatalf("DeleteGeneration(serving) = %v, want ErrServingGeneration", err)
	}
	if err := redis.DeleteGeneration(ctx, c, prefix, "g1"); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Keys(ctx, serving.Keys().Base()+"*").Result(); err != nil || len(n) != 0 {
		t.Fatalf("keys of g1 after delete = %v, %v; want none", n, err)
	}
	if _, ok, err := next.Record(ctx, "ns", coord(1)); err != nil || !ok {
		t.Fatalf("g2 record after deleting g1 = %v, %v; want it kept", ok, err)
	}
}

func TestKeyLayout(t *testing.T) {
	k := redis.NewKeys("soma", "g1")
	for _, tc := range []struct{ got, want string }{
		{k.Record("tenant:a", "1,2.5"), "soma:{g1}:rec:tenant:a:1,2.5"},
		{k.Record("ns", ""), "soma:{g1}:rec:ns:"},
		{k.Counts("ns"), "soma:{g1}:count:ns"},
		{k.Positions("memory.events"), "soma:{g1}:pos:memory.events"},
		{redis.PointerKey("soma"), "soma:current"},
	} {
		if tc.got != tc.want {
			t.Errorf("key %q, want %q", tc.got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  redis.Config
		ok   bool
	}{
		{"zero_value_means_defaults", redis.Config{}, true},
		{"accepts_colon_separated_prefix", redis.Config{Prefix: "app:soma", Generation: "g2_replay-1.0"}, true},
		{"rejects_space_in_prefix", redis.Config{Prefix: "a b"}, false},
		{"rejects_glob_in_prefix", redis.Config{Prefix: "soma*"}, false},
		{"rejects_empty_prefix_segment", redis.Config{Prefix: "a::b"}, false},
		{"rejects_brace_in_generation", redis.Config{Generation: "{g1}"}, false},
		{"rejects_colon_in_generation", redis.Config{Generation: "g:1"}, false},
		{"rejects_negative_chunk", redis.Config{ChunkEvents: -1}, false},
		{"rejects_huge_chunk", redis.Config{ChunkEvents: redis.MaxChunkEvents + 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, redis.ErrInvalidConfig) {
				t.Fatalf("Validate = %v, want it to wrap ErrInvalidConfig", err)
			}
		})
	}
}
