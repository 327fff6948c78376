package runner

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metric names. The consumer_* names are those of the original service's
// consumer; soma_projection_* are per projection and partition.
const (
	MetricConsumed      = "consumer_messages_consumed_total"
	MetricSuccess       = "consumer_process_success_total"
	MetricFailure       = "consumer_process_failure_total"
	MetricLatency       = "consumer_processing_latency_seconds"
	MetricApplied       = "soma_projection_events_applied_total"
	MetricLag           = "soma_projection_lag"
	MetricDeadLettered  = "soma_projection_dead_lettered_total"
	MetricStalled       = "soma_projection_stalled"
	MetricBatchSize     = "soma_projection_batch_size"
	MetricAppliedOffset = "soma_projection_applied_offset"
)

// Metrics of every runner of a process.
type Metrics struct {
	consumed  *prometheus.CounterVec
	success   prometheus.Counter
	failure   *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	applied   *prometheus.CounterVec
	lag       *prometheus.GaugeVec
	dead      *prometheus.CounterVec
	stalled   *prometheus.GaugeVec
	batchSize *prometheus.HistogramVec
	offset    *prometheus.GaugeVec
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricConsumed, Help: "Messages read from the topic."}, []string{"topic"}),
		success:  prometheus.NewCounter(prometheus.CounterOpts{Name: MetricSuccess, Help: "Messages applied to a read model."}),
		failure:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricFailure, Help: "Failed attempts to apply a batch (component = read model)."}, []string{"component"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricLatency, Help: "Time to apply one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"component"}),
		applied:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricApplied, Help: "Events applied, per projection and partition."}, []string{"projection", "partition"}),
		lag:       prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricLag, Help: "Events in the partition not yet applied (high-water mark minus next offset)."}, []string{"projection", "partition"}),
		dead:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricDeadLettered, Help: "Events sent to the dead-letter topic."}, []string{"projection", "reason"}),
		stalled:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricStalled, Help: "1 while a projection keeps failing to apply a batch."}, []string{"projection"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricBatchSize, Help: "Events per applied batch.", Buckets: prometheus.ExponentialBuckets(1, 2, 12)}, []string{"projection"}),
		offset:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricAppliedOffset, Help: "Offset of the last applied event."}, []string{"projection", "partition"}),
	}
	for _, c := range []prometheus.Collector{m.consumed, m.success, m.failure, m.latency, m.applied, m.lag, m.dead, m.stalled, m.batchSize, m.offset} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
