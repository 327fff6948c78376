package embedded_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/projections/embedded"
)

// jsonCodec is the event_log body codec of the tests: the event name and
// the event as JSON.
type jsonCodec struct{}

type jsonBody struct {
	Type  string          `json:"type"`
	Event json.RawMessage `json:"event"`
}

func (jsonCodec) EncodeBody(e domain.Event) ([]byte, error) {
	ev, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return json.Marshal(jsonBody{Type: e.EventName(), Event: ev})
}

func (jsonCodec) DecodeBody(b []byte) (domain.Event, error) {
	var body jsonBody
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, err
	}
	decode := func(v any) error { return json.Unmarshal(body.Event, v) }
	switch body.Type {
	case domain.EventMemoryStored:
		var e domain.MemoryStored
		return e, decode(&e)
	case domain.EventMemoryDeleted:
		var e domain.MemoryDeleted
		return e, decode(&e)
	case domain.EventMemoriesLinked:
		var e domain.MemoriesLinked
		return e, decode(&e)
	case domain.EventMemoryUnlinked:
		var e domain.MemoryUnlinked
		return e, decode(&e)
	case domain.EventMemoryImportanceSet:
		var e domain.MemoryImportanceSet
		return e, decode(&e)
	}
	return nil, fmt.Errorf("unknown event type %q", body.Type)
}

func testConfig(dir string) embedded.Config {
	return embedded.Config{Dir: dir, Encoder: jsonCodec{}, Decoder: jsonCodec{}}
}

// openStore opens a store in dir and closes it at the end of the test.
func openStore(t testing.TB, cfg embedded.Config) *embedded.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := embedded.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg.Dir, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// probe reads the store back for the contract suite.
type probe struct{ s *embedded.Store }

func (p probe) Record(ctx context.Context, ns string, c domain.Coordinate) (domain.Memory, bool, error) {
	return p.s.Get(ctx, ns, c)
}

func (p probe) Links(ctx context.Context, ns string, from domain.Coordinate) ([]domain.Link, error) {
	return p.s.Neighbors(ctx, ns, from, "", 1<<30)
}

func (p probe) Counts(ctx context.Context, ns string) (total, episodic, semantic int64, err error) {
	return p.s.Counts(ctx, ns)
}

func (p probe) Vector(ctx context.Context, ns string, c domain.Coordinate) ([]float32, bool, error) {
	return p.s.Vector(ctx, ns, c)
}
