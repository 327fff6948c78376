//go:build outage

// The outage test pauses the shared broker (SIGSTOP), so it runs on its
// own after the other suites: `make test` runs it as a second phase.
package eventbus_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/commands/eventbus"
	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/kafkaconf"
	"github.com/somafractalmemory/soma/internal/testenv"
)

func TestOutageBrokerPausedIsUnavailableAndNothingAcknowledgedIsLost(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	pidFile := testenv.Optional(testenv.KafkaPIDFileVar)
	if pidFile == "" {
		t.Fatalf("%s is not set: the outage test needs the broker's pid file", testenv.KafkaPIDFileVar)
	}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	topic := "outage." + uuid.NewString()[:8]
	settings := kafkaconf.Settings{Brokers: brokers}
	const timeout = 2 * time.Second
	pcfg, _ := settings.Producer(timeout)
	client, err := sarama.NewClient(brokers, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	admin, _ := sarama.NewClusterAdminFromClient(client)
	if _, err := kafkaconf.EnsureTopic(admin, kafkaconf.TopicSpec{Name: topic, Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	prod, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	pub := eventbus.New(prod, codec(t, topic), eventbus.Config{Topic: topic, Timeout: timeout})

	acked := map[string]bool{}
	appendOne := func() error {
		e := domain.MemoryDeleted{EventMeta: meta("ns", 1), Coordinate: domain.MustCoordinate(1)}
		_, err := pub.Append(context.Background(), []domain.Event{e})
		if err == nil {
			acked[e.EventID] = true
		}
		return err
	}
	if err := appendOne(); err != nil {
		t.Fatal(err)
	}

	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	defer resume()
	for i := 0; i < 3; i++ {
		start := time.Now()
		err := appendOne()
		if !errors.Is(err, commands.ErrUnavailable) {
			t.Fatalf("append while the broker is paused: %v, want ErrUnavailable", err)
		}
		if d := time.Since(start); d > timeout+time.Second {
			t.Fatalf("append took %s with a %s publish timeout", d, timeout)
		}
	}
	resume()

	deadline := time.Now().Add(60 * time.Second)
	for appendOne() != nil {
		if time.Now().After(deadline) {
			t.Fatal("publishing did not recover after the broker resumed")
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Every acknowledged event is on the topic.
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	hw, err := client.GetOffset(topic, 0, sarama.OffsetNewest)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := consumer.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	seen := map[string]bool{}
	for off := int64(0); off < hw; off++ {
		select {
		case m := <-pc.Messages():
			for _, h := range m.Headers {
				if string(h.Key) == "_watermill_message_uuid" {
					seen[string(h.Value)] = true
				}
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("topic ended at %d of %d", off, hw)
		}
	}
	for id := range acked {
		if !seen[id] {
			t.Fatalf("event %s was acknowledged but is not on the topic", id)
		}
	}
	t.Logf("%d acknowledged events all on the topic (%d messages, including ones whose append timed out)", len(acked), hw)
}
