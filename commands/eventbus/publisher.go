// Package eventbus publishes the write side's events to the Kafka topic.
//
// Messages use watermill-kafka's wire format (its Marshaler: the watermill
// UUID header plus metadata headers), so the projector's watermill
// subscriber reads them as ordinary watermill messages. Publishing goes
// through sarama's SyncProducer.SendMessages rather than watermill's
// Publisher, because the write API needs two things that Publisher hides:
// one produce round-trip for a whole batch (store_bulk, import), and the
// partition and offset of every event (consistency tokens).
package eventbus

import (
	"context"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	wkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
)

// Metadata keys set on every message (Kafka headers). Consumers may route
// on them without decoding the body; the body stays the source of truth.
const (
	MetaEventType = "event_type"
	MetaNamespace = "namespace"
)

// ErrUnavailable means the broker did not acknowledge the events within
// the publish timeout. Some of them may still have been written: clients
// retry with the same Idempotency-Key. It is commands.ErrUnavailable, so
// the APIs answer 503.
var ErrUnavailable = commands.ErrUnavailable

// Encoder frames an event for the topic (Confluent framing + Avro).
type Encoder interface {
	Encode(e domain.Event) ([]byte, error)
}

// Config of a Publisher.
type Config struct {
	Topic   string
	Timeout time.Duration // bound on one Append, default 5s
	// MaxInFlight bounds concurrent Appends waiting for the broker; more
	// fail fast with ErrUnavailable instead of piling up. Default 256.
	MaxInFlight int
}

// Publisher appends events to the topic. Safe for concurrent use.
type Publisher struct {
	producer sarama.SyncProducer
	encoder  Encoder
	cfg      Config
	slots    chan struct{}
}

// New wraps a sync producer built from kafkaconf.Settings.Producer.
func New(producer sarama.SyncProducer, enc Encoder, cfg Config) *Publisher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 256
	}
	return &Publisher{producer: producer, encoder: enc, cfg: cfg, slots: make(chan struct{}, cfg.MaxInFlight)}
}

// Append publishes the events in one produce batch and returns their
// positions once the broker acknowledged all of them (acks=all). Events
// with the same partition key keep their order. On timeout, broker error
// or cancellation it returns an error wrapping ErrUnavailable.
func (p *Publisher) Append(ctx context.Context, events []domain.Event) (consistency.Token, error) {
	tok := consistency.Token{Source: p.cfg.Topic}
	if len(events) == 0 {
		return tok, nil
	}
	msgs := make([]*sarama.ProducerMessage, len(events))
	for i, e := range events {
		m, err := p.message(e)
		if err != nil {
			return tok, err
		}
		msgs[i] = m
	}

	select {
	case p.slots <- struct{}{}:
	default:
		return tok, fmt.Errorf("%w: too many publishes in flight", ErrUnavailable)
	}
	done := make(chan error, 1)
	go func() {
		defer func() { <-p.slots }()
		done <- p.producer.SendMessages(msgs)
	}()
	timer := time.NewTimer(p.cfg.Timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			return tok, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	case <-timer.C:
		return tok, fmt.Errorf("%w: no acknowledgement within %s", ErrUnavailable, p.cfg.Timeout)
	case <-ctx.Done():
		return tok, fmt.Errorf("%w: %v", ErrUnavailable, ctx.Err())
	}
	for _, m := range msgs {
		tok.Add(m.Partition, m.Offset)
	}
	return tok, nil
}

func (p *Publisher) message(e domain.Event) (*sarama.ProducerMessage, error) {
	body, err := p.encoder.Encode(e)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", e.EventName(), err)
	}
	meta := e.Metadata()
	wm := message.NewMessage(meta.EventID, body)
	wm.Metadata.Set(MetaEventType, e.EventName())
	wm.Metadata.Set(MetaNamespace, meta.Namespace)
	pm, err := wkafka.DefaultMarshaler{}.Marshal(p.cfg.Topic, wm)
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", e.EventName(), err)
	}
	pm.Key = sarama.StringEncoder(domain.PartitionKey(e))
	return pm, nil
}

// Close closes the producer.
func (p *Publisher) Close() error { return p.producer.Close() }

var _ commands.EventSink = (*Publisher)(nil)
