package redis

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"
)

// Current returns the serving generation under prefix: the one the
// pointer "<prefix>:current" names, or DefaultGeneration when no
// generation was ever promoted.
func Current(ctx context.Context, client goredis.UniversalClient, prefix string) (string, error) {
	gen, err := client.Get(ctx, PointerKey(prefix)).Result()
	if errors.Is(err, goredis.Nil) {
		return DefaultGeneration, nil
	}
	if err != nil {
		return "", fmt.Errorf("redis current generation %s: %w", PointerKey(prefix), err)
	}
	return gen, nil
}

// ErrServingGeneration is returned by DeleteGeneration for the serving
// generation.
var ErrServingGeneration = errors.New("generation is serving")

// deleteBatch is the number of keys per SCAN step and per UNLINK.
const deleteBatch = 1000

// DeleteGeneration removes every key of generation under prefix (records,
// counters, positions), after a replay promoted another one. It refuses
// the serving generation (see Current) with ErrServingGeneration. The
// keys are scanned and unlinked in steps, so it does not block Redis; a
// projection still writing the generation may leave keys behind.
func DeleteGeneration(ctx context.Context, client goredis.UniversalClient, prefix, generation string) error {
	if err := errors.Join(ValidatePrefix(prefix), ValidateGeneration(generation)); err != nil {
		return err
	}
	cur, err := Current(ctx, client, prefix)
	if err != nil {
		return err
	}
	if cur == generation {
		return fmt.Errorf("redis delete generation %s of %s: %w", generation, prefix, ErrServingGeneration)
	}
	base := NewKeys(prefix, generation).Base()
	// On a cluster every key of the generation is on the node owning its
	// hash slot: scan that node.
	var node goredis.Cmdable = client
	if cc, ok := client.(*goredis.ClusterClient); ok {
		if node, err = cc.MasterForKey(ctx, base); err != nil {
			return fmt.Errorf("redis delete generation %s: %w", base, err)
		}
	}
	var cursor uint64
	for {
		keys, next, err := node.Scan(ctx, cursor, base+"*", deleteBatch).Result()
		if err != nil {
			return fmt.Errorf("redis delete generation %s: scan: %w", base, err)
		}
		if len(keys) > 0 {
			if err := node.Unlink(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("redis delete generation %s: unlink: %w", base, err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}
