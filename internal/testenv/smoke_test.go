package testenv_test

// Smoke tests for the services started by scripts/test-services.sh. They
// prove each service accepts the client the project uses, so a failure here
// points at the environment, not at project code. Under
// SOMA_REQUIRE_SERVICES=1 a missing service fails them; otherwise they skip.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/somafractalmemory/soma/internal/testenv"
)

// smokeKafkaVersion is the protocol level sarama assumes for the broker.
// Kafka 4.x dropped the request versions older than Kafka 2.1's (KIP-896),
// and sarama never picks a request version above what Config.Version
// allows (ApiVersions only negotiates down), so the level must be at least
// V2_1_0_0. watermill-kafka's default, V1_0_0_0, is below that floor: it
// happens to pass this test against Kafka 4.1, but nothing guarantees it
// for every API the project uses. V3_6_0_0 is what the project's adapters
// should use too: it is inside the range every 4.x broker accepts, and
// sarama still negotiates down through ApiVersions for an older 3.x broker.
var smokeKafkaVersion = sarama.V3_6_0_0

// serviceDeadline bounds every wait on a real service in these tests.
const serviceDeadline = 60 * time.Second

func TestPostgres(t *testing.T) {
	url := testenv.PostgresURL(t)

	t.Run("round_trips_a_row_through_a_temp_table", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), serviceDeadline)
		defer cancel()

		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatalf("connect %s: %v", url, err)
		}
		t.Cleanup(func() { _ = conn.Close(context.Background()) })

		table := pgx.Identifier{"smoke_" + strings.ReplaceAll(uuid.NewString(), "-", "")}.Sanitize()
		if _, err := conn.Exec(ctx, "CREATE TEMP TABLE "+table+" (id bigint PRIMARY KEY, body text NOT NULL)"); err != nil {
			t.Fatalf("create table: %v", err)
		}
		want := "soma smoke " + uuid.NewString()
		if _, err := conn.Exec(ctx, "INSERT INTO "+table+" (id, body) VALUES ($1, $2)", 42, want); err != nil {
			t.Fatalf("insert: %v", err)
		}
		var got string
		if err := conn.QueryRow(ctx, "SELECT body FROM "+table+" WHERE id = $1", 42).Scan(&got); err != nil {
			t.Fatalf("select: %v", err)
		}
		if got != want {
			t.Fatalf("body = %q, want %q", got, want)
		}
		var version string
		if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
			t.Fatalf("server_version: %v", err)
		}
		t.Logf("postgres server_version %s", version)
	})
}

func TestRedis(t *testing.T) {
	url := testenv.RedisURL(t)

	t.Run("round_trips_a_unique_key", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), serviceDeadline)
		defer cancel()

		opts, err := redis.ParseURL(url)
		if err != nil {
			t.Fatalf("parse %s: %v", url, err)
		}
		client := redis.NewClient(opts)
		t.Cleanup(func() { _ = client.Close() })

		key := "soma:smoke:" + uuid.NewString()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := client.Del(ctx, key).Err(); err != nil {
				t.Errorf("cleanup del %s: %v", key, err)
			}
		})

		want := "value-" + uuid.NewString()
		if err := client.Set(ctx, key, want, time.Minute).Err(); err != nil {
			t.Fatalf("set: %v", err)
		}
		got, err := client.Get(ctx, key).Result()
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		if got != want {
			t.Fatalf("get = %q, want %q", got, want)
		}
		if err := client.Del(ctx, key).Err(); err != nil {
			t.Fatalf("del: %v", err)
		}
		if _, err := client.Get(ctx, key).Result(); !errors.Is(err, redis.Nil) {
			t.Fatalf("get after del: err = %v, want redis.Nil", err)
		}
	})
}

func TestKafka(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)

	t.Run("delivers_to_a_new_group_and_replays_to_a_second", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), serviceDeadline)
		defer cancel()

		topic := "soma-smoke-" + uuid.NewString()
		logger := watermill.NewStdLogger(false, false)

		pubConfig := kafka.DefaultSaramaSyncPublisherConfig()
		pubConfig.Version = smokeKafkaVersion
		// The topic is auto-created by this first publish; retry its
		// metadata quickly instead of watermill's 2 s default.
		pubConfig.Metadata.Retry.Backoff = 100 * time.Millisecond
		pub, err := kafka.NewPublisher(kafka.PublisherConfig{
			Brokers:               brokers,
			Marshaler:             kafka.DefaultMarshaler{},
			OverwriteSaramaConfig: pubConfig,
		}, logger)
		if err != nil {
			t.Fatalf("new publisher: %v", err)
		}
		t.Cleanup(func() { _ = pub.Close() })

		sent := message.NewMessage(uuid.NewString(), []byte(`{"smoke":"`+uuid.NewString()+`"}`))
		sent.Metadata.Set("event_name", "soma.smoke.v1")
		sent.Metadata.Set("partition_key", "smoke")
		if err := pub.Publish(topic, sent); err != nil {
			t.Fatalf("publish to %s: %v", topic, err)
		}

		first := consumeOne(ctx, t, brokers, topic, "soma-smoke-a-"+uuid.NewString(), logger)
		assertSame(t, "first group", sent, first)

		replayed := consumeOne(ctx, t, brokers, topic, "soma-smoke-b-"+uuid.NewString(), logger)
		assertSame(t, "second group", sent, replayed)
	})
}

// consumeOne subscribes to topic as a new consumer group starting at the
// oldest offset, acks the first message and closes the subscriber.
func consumeOne(ctx context.Context, t *testing.T, brokers []string, topic, group string, logger watermill.LoggerAdapter) *message.Message {
	t.Helper()

	subConfig := kafka.DefaultSaramaSubscriberConfig()
	subConfig.Version = smokeKafkaVersion
	subConfig.Consumer.Offsets.Initial = sarama.OffsetOldest
	sub, err := kafka.NewSubscriber(kafka.SubscriberConfig{
		Brokers:               brokers,
		Unmarshaler:           kafka.DefaultMarshaler{},
		OverwriteSaramaConfig: subConfig,
		ConsumerGroup:         group,
	}, logger)
	if err != nil {
		t.Fatalf("new subscriber %s: %v", group, err)
	}
	defer func() {
		if err := sub.Close(); err != nil {
			t.Errorf("close subscriber %s: %v", group, err)
		}
	}()

	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs, err := sub.Subscribe(subCtx, topic)
	if err != nil {
		t.Fatalf("subscribe %s as %s: %v", topic, group, err)
	}
	select {
	case msg, ok := <-msgs:
		if !ok {
			t.Fatalf("group %s: message channel closed before any message", group)
		}
		got := msg.Copy()
		msg.Ack()
		return got
	case <-ctx.Done():
		t.Fatalf("group %s: no message on %s before the deadline: %v", group, topic, ctx.Err())
		return nil
	}
}

func assertSame(t *testing.T, what string, want, got *message.Message) {
	t.Helper()
	if got.UUID != want.UUID {
		t.Errorf("%s: uuid = %q, want %q", what, got.UUID, want.UUID)
	}
	if string(got.Payload) != string(want.Payload) {
		t.Errorf("%s: payload = %q, want %q", what, got.Payload, want.Payload)
	}
	for _, k := range []string{"event_name", "partition_key"} {
		if got.Metadata.Get(k) != want.Metadata.Get(k) {
			t.Errorf("%s: metadata %s = %q, want %q", what, k, got.Metadata.Get(k), want.Metadata.Get(k))
		}
	}
}
