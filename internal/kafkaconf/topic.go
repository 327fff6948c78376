package kafkaconf

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/IBM/sarama"
)

// ErrFiniteRetention is returned when the event topic would drop events:
// the log is the source of truth and is replayed from offset 0.
var ErrFiniteRetention = errors.New("topic has finite retention")

// TopicSpec describes the event topic.
type TopicSpec struct {
	Name              string
	Partitions        int32 // default 12
	ReplicationFactor int16 // default 1
	// AllowFiniteRetention accepts an existing topic whose retention.ms or
	// retention.bytes is not -1 (for development clusters only).
	AllowFiniteRetention bool
}

// TopicState is what EnsureTopic found or made.
type TopicState struct {
	Created    bool
	Partitions int32
}

// EnsureTopic creates the topic with infinite retention, or verifies an
// existing one: retention must be infinite unless allowed. A topic with a
// different partition count is accepted as is (partitions cannot shrink,
// and growing them would reorder memories) and reported in the state.
func EnsureTopic(admin sarama.ClusterAdmin, spec TopicSpec) (TopicState, error) {
	if spec.Partitions <= 0 {
		spec.Partitions = 12
	}
	if spec.ReplicationFactor <= 0 {
		spec.ReplicationFactor = 1
	}
	infinite := "-1"
	metas, err := admin.DescribeTopics([]string{spec.Name})
	if err != nil {
		return TopicState{}, fmt.Errorf("describe topic %s: %w", spec.Name, err)
	}
	if len(metas) == 1 && errors.Is(metas[0].Err, sarama.ErrUnknownTopicOrPartition) {
		err := admin.CreateTopic(spec.Name, &sarama.TopicDetail{
			NumPartitions:     spec.Partitions,
			ReplicationFactor: spec.ReplicationFactor,
			ConfigEntries: map[string]*string{
				"retention.ms":    &infinite,
				"retention.bytes": &infinite,
				"cleanup.policy":  strPtr("delete"),
			},
		}, false)
		if err == nil {
			return TopicState{Created: true, Partitions: spec.Partitions}, nil
		}
		if !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return TopicState{}, fmt.Errorf("create topic %s: %w", spec.Name, err)
		}
		// Another process created it moments ago: wait until the
		// metadata knows it, then verify what it made.
		for i := 0; i < 50; i++ {
			metas, err = admin.DescribeTopics([]string{spec.Name})
			if err != nil {
				return TopicState{}, fmt.Errorf("describe topic %s: %w", spec.Name, err)
			}
			if len(metas) == 1 && !errors.Is(metas[0].Err, sarama.ErrUnknownTopicOrPartition) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if len(metas) != 1 || (metas[0].Err != sarama.ErrNoError && metas[0].Err != sarama.ErrLeaderNotAvailable) {
		return TopicState{}, fmt.Errorf("describe topic %s: unexpected metadata (%d topics, error %v)", spec.Name, len(metas), firstErr(metas))
	}
	state := TopicState{Partitions: int32(len(metas[0].Partitions))} // #nosec G115 -- Kafka partition ids are int32, so their count fits
	results, err := admin.DescribeConfigs([]*sarama.ConfigResource{{Type: sarama.TopicResource, Name: spec.Name}}, sarama.DescribeConfigsOptions{})
	if err != nil {
		return state, fmt.Errorf("describe config of topic %s: %w", spec.Name, err)
	}
	var entries []sarama.ConfigEntry
	for _, r := range results {
		if r.ErrorCode != sarama.ErrNoError {
			return state, fmt.Errorf("describe config of topic %s: %w: %s", spec.Name, r.ErrorCode, r.ErrorMsg)
		}
		entries = append(entries, r.Configs...)
	}
	for _, e := range entries {
		if e.Name != "retention.ms" && e.Name != "retention.bytes" {
			continue
		}
		v, err := strconv.ParseInt(e.Value, 10, 64)
		if err == nil && v < 0 {
			continue
		}
		if !spec.AllowFiniteRetention {
			return state, fmt.Errorf("%w: %s %s=%s (set it to -1, or allow finite retention explicitly)", ErrFiniteRetention, spec.Name, e.Name, e.Value)
		}
	}
	return state, nil
}

func strPtr(s string) *string { return &s }

func firstErr(metas []*sarama.TopicMetadata) error {
	if len(metas) == 0 {
		return nil
	}
	return metas[0].Err
}
