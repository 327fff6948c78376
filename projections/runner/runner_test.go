package runner_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/somafractalmemory/soma/commands/eventbus"
	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/kafkaconf"
	"github.com/somafractalmemory/soma/internal/testenv"
	pgproj "github.com/somafractalmemory/soma/projections/postgres"
	"github.com/somafractalmemory/soma/projections/runner"
	"github.com/somafractalmemory/soma/schemas"
)

// env is a fresh topic, DLQ topic, Postgres schema and registry.
type env struct {
	brokers  []string
	topic    string
	dlq      string
	settings kafkaconf.Settings
	codec    *schemas.Codec
	pub      *eventbus.Publisher
	raw      sarama.SyncProducer
	pool     *pgxpool.Pool
	proj     *pgproj.Projection
	metrics  *runner.Metrics
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{brokers: testenv.KafkaBrokers(t), topic: "t." + uuid.NewString()[:8]}
	e.dlq = e.topic + ".dlq"
	e.settings = kafkaconf.Settings{Brokers: e.brokers}
	pcfg, _ := e.settings.Producer(10 * time.Second)
	client, err := sarama.NewClient(e.brokers, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	admin, _ := sarama.NewClusterAdminFromClient(client)
	for _, tp := range []string{e.topic, e.dlq} {
		if _, err := kafkaconf.EnsureTopic(admin, kafkaconf.TopicSpec{Name: tp, Partitions: 3}); err != nil {
			t.Fatal(err)
		}
	}
	fake := srfake.New()
	t.Cleanup(fake.Close)
	cat, _ := schemas.BuiltinCatalog()
	rc, err := schemas.NewRegistryClient(schemas.RegistryConfig{URL: fake.URL(), Topic: e.topic, AutoRegister: true}, cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.codec, _ = schemas.NewCodec(cat, rc)
	prod, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	e.raw = prod
	e.pub = eventbus.New(prod, e.codec, eventbus.Config{Topic: e.topic, Timeout: 10 * time.Second})

	pool, err := pgxpool.New(context.Background(), testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	schema := "rt_" + uuid.NewString()[:8]
	if err := pgproj.Migrate(context.Background(), pool, schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	e.pool = pool
	e.proj = pgproj.New(pool, pgproj.Config{Schema: schema, Encoder: enc{e.codec}})
	e.metrics, _ = runner.NewMetrics(prometheus.NewRegistry())
	return e
}

type enc struct{ c *schemas.Codec }

func (x enc) EncodeBody(e domain.Event) ([]byte, error) { return x.c.Encode(e) }

// dlqSink records dead letters through the real DLQ publisher path is
// exercised in cmd; here a sarama producer writes them to the DLQ topic.
type dlqSink struct {
	prod  sarama.SyncProducer
	topic string
}

func (d dlqSink) DeadLetter(_ context.Context, m *sarama.ConsumerMessage, projection, reason string) error {
	_, _, err := d.prod.SendMessage(&sarama.ProducerMessage{Topic: d.topic, Key: sarama.ByteEncoder(m.Key), Value: sarama.ByteEncoder(m.Value),
		Headers: []sarama.RecordHeader{
			{Key: []byte(runner.HeaderDLQReason), Value: []byte(reason)},
			{Key: []byte(runner.HeaderDLQProjection), Value: []byte(projection)},
			{Key: []byte(runner.HeaderDLQPartition), Value: []byte(strconv.Itoa(int(m.Partition)))},
			{Key: []byte(runner.HeaderDLQOffset), Value: []byte(strconv.FormatInt(m.Offset, 10))},
		}})
	return err
}

func (e *env) start(t *testing.T, group string) (stop func()) {
	t.Helper()
	ccfg, _ := e.settings.Consumer()
	client, err := sarama.NewClient(e.brokers, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(e.proj, client, e.codec, schemas.Permanent, dlqSink{e.raw, e.dlq}, e.metrics,
		runner.Config{Topic: e.topic, Group: group, BatchWait: 5 * time.Millisecond, RetryMin: 20 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	return func() {
		cancel()
		<-done
		_ = r.Close()
		_ = client.Close()
	}
}

func stored(e *env, ns string, i int) domain.Event {
	return domain.MemoryStored{EventMeta: domain.EventMeta{EventID: uuid.NewString(), Namespace: ns, OccurredAt: time.Unix(1700000000, 0).UTC()},
		Coordinate: domain.MustCoordinate(float64(i)), Payload: []byte(fmt.Sprintf(`{"i":%d}`, i)), Type: domain.Semantic,
		ImportanceNorm: 0.5, Embedding: []float32{1, 0}, EmbeddingModel: "m/2"}
}

// waitCounts polls the read model until the namespace holds want memories.
func waitCounts(t *testing.T, e *env, ns string, want int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		total, _, _, err := e.proj.Counts(context.Background(), ns)
		if err == nil && total == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s has %d memories (err %v), want %d", ns, total, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunner(t *testing.T) {
	e := newEnv(t)
	ns := "n" + uuid.NewString()[:6]
	var evs []domain.Event
	for i := 0; i < 50; i++ {
		evs = append(evs, stored(e, ns, i))
	}
	if _, err := e.pub.Append(context.Background(), evs[:25]); err != nil {
		t.Fatal(err)
	}
	// A poison message: not Confluent-framed Avro.
	pp, po, err := e.raw.SendMessage(&sarama.ProducerMessage{Topic: e.topic, Key: sarama.StringEncoder(ns + "\x00x"), Value: sarama.ByteEncoder("garbage")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.pub.Append(context.Background(), evs[25:]); err != nil {
		t.Fatal(err)
	}

	stop := e.start(t, "g-"+uuid.NewString()[:6])
	waitCounts(t, e, ns, 50)
	stop()

	t.Run("poison_event_goes_to_dlq_with_headers", func(t *testing.T) {
		consumer, err := sarama.NewConsumer(e.brokers, sarama.NewConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer consumer.Close()
		parts, _ := consumer.Partitions(e.dlq)
		found := false
		for _, p := range parts {
			pc, err := consumer.ConsumePartition(e.dlq, p, sarama.OffsetOldest)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-pc.Messages():
				h := map[string]string{}
				for _, x := range m.Headers {
					h[string(x.Key)] = string(x.Value)
				}
				if string(m.Value) != "garbage" || h[runner.HeaderDLQProjection] != "postgres" || h[runner.HeaderDLQPartition] != strconv.Itoa(int(pp)) || h[runner.HeaderDLQOffset] != strconv.FormatInt(po, 10) || h[runner.HeaderDLQReason] == "" {
					t.Fatalf("dead letter %q headers %v", m.Value, h)
				}
				found = true
			case <-time.After(500 * time.Millisecond):
			}
			pc.Close()
		}
		if !found {
			t.Fatal("no dead letter")
		}
	})

	t.Run("a_new_group_resumes_from_the_read_model_checkpoint", func(t *testing.T) {
		before, _ := e.proj.Positions(context.Background(), e.topic)
		more := []domain.Event{stored(e, ns, 100), stored(e, ns, 0)} // a new one and a re-store
		if _, err := e.pub.Append(context.Background(), more); err != nil {
			t.Fatal(err)
		}
		stop := e.start(t, "other-"+uuid.NewString()[:6])
		waitCounts(t, e, ns, 51)
		deadline := time.Now().Add(20 * time.Second)
		for {
			m, ok, err := e.proj.Get(context.Background(), ns, domain.MustCoordinate(0))
			if err == nil && ok && m.Version == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("memory 0 version %d (ok %v err %v), want 2: the new group must not re-apply old events", m.Version, ok, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		stop()
		m, _, _ := e.proj.Get(context.Background(), ns, domain.MustCoordinate(7))
		if m.Version != 1 {
			t.Fatalf("memory 7 re-applied: version %d", m.Version)
		}
		after, _ := e.proj.Positions(context.Background(), e.topic)
		if len(after) < len(before) {
			t.Fatalf("positions %v → %v", before, after)
		}
	})
}
