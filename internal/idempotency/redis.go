package idempotency

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// KeyPrefix is prepended (after the configured prefix) to every key this
// store writes: <prefix>:idem:<key>.
const KeyPrefix = "idem:"

// Redis is a Store shared by every replica of the write API.
type Redis struct {
	client redis.UniversalClient
	prefix string
}

// NewRedis returns a store writing keys under prefix (e.g. "soma").
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix + ":" + KeyPrefix}
}

var _ Store = (*Redis)(nil)

// Begin implements Store with SET NX, so exactly one request reserves.
func (r *Redis) Begin(ctx context.Context, key, fp string, _ time.Duration) (Outcome, *Response, error) {
	pending, _ := json.Marshal(record{Fingerprint: fp})
	ok, err := r.client.SetNX(ctx, r.prefix+key, pending, pendingTTL).Result()
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if ok {
		return Proceed, nil, nil
	}
	raw, err := r.client.Get(ctx, r.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		// Expired between the two calls: try once more.
		return r.Begin(ctx, key, fp, 0)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	var rec record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return 0, nil, fmt.Errorf("%w: corrupt record for key: %v", ErrUnavailable, err)
	}
	switch {
	case rec.Fingerprint != fp:
		return Mismatch, nil, nil
	case !rec.Done || rec.Response == nil:
		return InProgress, nil, nil
	}
	return Replay, rec.Response, nil
}

// Complete implements Store.
func (r *Redis) Complete(ctx context.Context, key, fp string, resp Response, ttl time.Duration) error {
	raw, err := json.Marshal(record{Fingerprint: fp, Done: true, Response: &resp})
	if err != nil {
		return err
	}
	if err := r.client.Set(ctx, r.prefix+key, raw, ttl).Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// releaseScript deletes the key only while it is still a reservation.
var releaseScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.find(v, '"d":false', 1, true) then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// Release implements Store.
func (r *Redis) Release(ctx context.Context, key string) error {
	if err := releaseScript.Run(ctx, r.client, []string{r.prefix + key}).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}
