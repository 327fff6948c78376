package runner

import (
	"context"
	"strconv"

	"github.com/IBM/sarama"
	wkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
)

// Headers added to a dead-lettered message (the original headers are
// kept, the value and key are the original bytes).
const (
	HeaderDLQReason     = "dlq_reason"
	HeaderDLQProjection = "dlq_projection"
	HeaderDLQTopic      = "dlq_source_topic"
	HeaderDLQPartition  = "dlq_source_partition"
	HeaderDLQOffset     = "dlq_source_offset"
	metaDLQKey          = "dlq_source_key"
)

// KafkaDeadLetters publishes dead letters with a watermill-kafka publisher
// (acks=all) to the dead-letter topic.
type KafkaDeadLetters struct {
	pub   message.Publisher
	topic string
}

// NewKafkaDeadLetters returns a DeadLetters writing to topic through pub,
// which must be a watermill-kafka publisher built with DLQMarshaler.
func NewKafkaDeadLetters(pub message.Publisher, topic string) *KafkaDeadLetters {
	return &KafkaDeadLetters{pub: pub, topic: topic}
}

// DLQMarshaler keeps the original message key on the dead letter.
func DLQMarshaler() wkafka.MarshalerUnmarshaler {
	return wkafka.NewWithPartitioningMarshaler(func(_ string, m *message.Message) (string, error) {
		return m.Metadata.Get(metaDLQKey), nil
	})
}

// DeadLetter implements DeadLetters.
func (d *KafkaDeadLetters) DeadLetter(ctx context.Context, m *sarama.ConsumerMessage, projection, reason string) error {
	id := uuid.NewString()
	wm := message.NewMessage(id, m.Value)
	wm.SetContext(ctx)
	for _, h := range m.Headers {
		if h == nil || string(h.Key) == wkafka.UUIDHeaderKey {
			continue
		}
		wm.Metadata.Set(string(h.Key), string(h.Value))
	}
	wm.Metadata.Set(HeaderDLQReason, reason)
	wm.Metadata.Set(HeaderDLQProjection, projection)
	wm.Metadata.Set(HeaderDLQTopic, m.Topic)
	wm.Metadata.Set(HeaderDLQPartition, strconv.Itoa(int(m.Partition)))
	wm.Metadata.Set(HeaderDLQOffset, strconv.FormatInt(m.Offset, 10))
	wm.Metadata.Set(metaDLQKey, string(m.Key))
	return d.pub.Publish(d.topic, wm)
}

var _ DeadLetters = (*KafkaDeadLetters)(nil)
