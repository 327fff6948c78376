package eventbus_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	wkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/commands/eventbus"
	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/kafkaconf"
	"github.com/somafractalmemory/soma/internal/testenv"
	"github.com/somafractalmemory/soma/schemas"
)

func codec(t *testing.T, topic string) *schemas.Codec {
	t.Helper()
	url := testenv.Optional(testenv.RegistryURLVar)
	if url == "" {
		fake := srfake.New()
		t.Cleanup(fake.Close)
		url = fake.URL()
	}
	cat, err := schemas.BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := schemas.NewRegistryClient(schemas.RegistryConfig{URL: url, Topic: topic, AutoRegister: true}, cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := schemas.NewCodec(cat, rc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func meta(ns string, i int) domain.EventMeta {
	return domain.EventMeta{EventID: uuid.NewString(), Namespace: ns, OccurredAt: time.Unix(1700000000+int64(i), 0).UTC(), Actor: "test"}
}

// TestPublishToKafka publishes through the real broker and reads the
// topic back: every event decodes through the registry, keys are
// namespace + coordinate, and a memory's events keep their order.
func TestPublishToKafka(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	topic := "test.events." + uuid.NewString()[:8]
	settings := kafkaconf.Settings{Brokers: brokers}
	pcfg, err := settings.Producer(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	client, err := sarama.NewClient(brokers, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	state, err := kafkaconf.EnsureTopic(admin, kafkaconf.TopicSpec{Name: topic, Partitions: 4})
	if err != nil || !state.Created || state.Partitions != 4 {
		t.Fatalf("ensure topic: %+v %v", state, err)
	}
	t.Run("existing_topic_is_verified_not_recreated", func(t *testing.T) {
		state, err := kafkaconf.EnsureTopic(admin, kafkaconf.TopicSpec{Name: topic, Partitions: 8})
		if err != nil || state.Created || state.Partitions != 4 {
			t.Fatalf("%+v %v", state, err)
		}
	})
	t.Run("finite_retention_is_refused_unless_allowed", func(t *testing.T) {
		finite := "finite." + uuid.NewString()[:8]
		week := "604800000"
		if err := admin.CreateTopic(finite, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1, ConfigEntries: map[string]*string{"retention.ms": &week}}, false); err != nil {
			t.Fatal(err)
		}
		if _, err := kafkaconf.EnsureTopic(admin, kafkaconf.TopicSpec{Name: finite}); !errors.Is(err, kafkaconf.ErrFiniteRetention) {
			t.Fatalf("got %v", err)
		}
		if _, err := kafkaconf.EnsureTopic(admin, kafkaconf.TopicSpec{Name: finite, AllowFiniteRetention: true}); err != nil {
			t.Fatal(err)
		}
	})

	prod, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	c := codec(t, topic)
	pub := eventbus.New(prod, c, eventbus.Config{Topic: topic, Timeout: 10 * time.Second})
	var _ commands.EventSink = pub

	var events []domain.Event
	for i := 0; i < 30; i++ {
		coord := domain.MustCoordinate(float64(i % 5))
		imp := float64(i)
		events = append(events, domain.MemoryStored{EventMeta: meta("ns", i), Coordinate: coord, Payload: []byte(fmt.Sprintf(`{"n":%d}`, i)),
			Type: domain.Episodic, Importance: &imp, ImportanceNorm: 0.5, Embedding: []float32{1, 0, 0}, EmbeddingModel: "hash-v1/3"})
	}
	events = append(events, domain.MemoriesLinked{EventMeta: meta("ns", 99), From: domain.MustCoordinate(1), To: domain.MustCoordinate(2), LinkType: "related", Weight: 2})
	tok, err := pub.Append(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Source != topic || tok.IsZero() {
		t.Fatalf("token %+v", tok)
	}

	// Read every partition back from the start.
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = consumer.Close() })
	byKey := map[string][]domain.Event{}
	total := 0
	for p, last := range tok.Positions {
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		for {
			var m *sarama.ConsumerMessage
			select {
			case m = <-pc.Messages():
			case <-time.After(15 * time.Second):
				t.Fatalf("partition %d: no message up to offset %d", p, last)
			}
			e, err := c.Decode(m.Value)
			if err != nil {
				t.Fatalf("decode %d@%d: %v", p, m.Offset, err)
			}
			if string(m.Key) != domain.PartitionKey(e) {
				t.Fatalf("key %q, want %q", m.Key, domain.PartitionKey(e))
			}
			wm, err := wkafka.DefaultMarshaler{}.Unmarshal(m)
			if err != nil || wm.UUID != e.Metadata().EventID || wm.Metadata.Get(eventbus.MetaEventType) != e.EventName() || wm.Metadata.Get(eventbus.MetaNamespace) != "ns" {
				t.Fatalf("watermill view %+v %v", wm, err)
			}
			byKey[string(m.Key)] = append(byKey[string(m.Key)], e)
			total++
			if m.Offset >= last {
				break
			}
		}
		pc.Close()
	}
	if total != len(events) {
		t.Fatalf("read %d events, published %d", total, len(events))
	}
	for key, evs := range byKey {
		prev := -1
		for _, e := range evs {
			s, ok := e.(domain.MemoryStored)
			if !ok {
				continue
			}
			var n int
			fmt.Sscanf(string(s.Payload), `{"n":%d}`, &n)
			if n <= prev {
				t.Fatalf("key %q: events out of order (%d after %d)", key, n, prev)
			}
			prev = n
			if s.Importance == nil || *s.Importance != float64(n) || s.EmbeddingModel != "hash-v1/3" || s.Actor != "test" {
				t.Fatalf("fields lost: %+v", s)
			}
		}
	}
}

// TestPublishTimeoutIsUnavailable: a producer that cannot reach the broker
// answers ErrUnavailable within the publish timeout, never hanging.
func TestPublishTimeoutIsUnavailable(t *testing.T) {
	pub := eventbus.New(stuckProducer{}, encoderFunc(func(domain.Event) ([]byte, error) { return []byte{0}, nil }), eventbus.Config{Topic: "t", Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := pub.Append(context.Background(), []domain.Event{domain.MemoryDeleted{EventMeta: meta("ns", 1), Coordinate: domain.MustCoordinate(1)}})
	if !errors.Is(err, commands.ErrUnavailable) {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %s", d)
	}
}

type encoderFunc func(domain.Event) ([]byte, error)

func (f encoderFunc) Encode(e domain.Event) ([]byte, error) { return f(e) }

// stuckProducer never gets an acknowledgement (a broker that stopped
// answering); it stands in only for the timeout path above.
type stuckProducer struct{ sarama.SyncProducer }

func (stuckProducer) SendMessages([]*sarama.ProducerMessage) error { select {} }
