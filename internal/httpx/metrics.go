package httpx

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// Metric names of the original service; dashboards depend on them.
const (
	MetricRequests       = "api_requests_total"
	MetricRequestLatency = "api_request_latency_seconds"
	Metric404            = "http_404_requests_total"
	MetricMemoryStored   = "soma_memory_store_total"

	// UnmatchedEndpoint is the endpoint label of requests that matched no
	// route (404 and 405), so unknown paths cannot grow label cardinality.
	UnmatchedEndpoint = "unmatched"
)

// Metrics are the request metrics every API engine records. Both engines of
// one process share them: NewMetrics on the same registry returns the
// collectors already registered.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	notFound prometheus.Counter
}

// NewMetrics registers (or reuses, when already registered on reg) the
// request metrics.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	requests, err := registerOrReuse(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricRequests,
		Help: "HTTP requests by route template and method.",
	}, []string{"endpoint", "method"}))
	if err != nil {
		return nil, err
	}
	latency, err := registerOrReuse(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    MetricRequestLatency,
		Help:    "HTTP request latency in seconds by route template and method.",
		Buckets: prometheus.DefBuckets,
	}, []string{"endpoint", "method"}))
	if err != nil {
		return nil, err
	}
	notFound, err := registerOrReuse(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: Metric404,
		Help: "HTTP responses with status 404.",
	}))
	if err != nil {
		return nil, err
	}
	return &Metrics{requests: requests, latency: latency, notFound: notFound}, nil
}

// StoreCounter counts stored memories per namespace
// (soma_memory_store_total{namespace}). Safe for concurrent use.
type StoreCounter struct {
	vec *prometheus.CounterVec
}

// NewStoreCounter registers (or reuses) soma_memory_store_total on reg.
func NewStoreCounter(reg prometheus.Registerer) (*StoreCounter, error) {
	vec, err := registerOrReuse(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricMemoryStored,
		Help: "Memories accepted for storage, by namespace.",
	}, []string{"namespace"}))
	if err != nil {
		return nil, err
	}
	return &StoreCounter{vec: vec}, nil
}

// Add counts n stored memories in namespace. A nil counter does nothing.
func (s *StoreCounter) Add(namespace string, n int) {
	if s == nil || n <= 0 {
		return
	}
	s.vec.WithLabelValues(namespace).Add(float64(n))
}

func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		var zero C
		return zero, fmt.Errorf("register metric: %w", err)
	}
	return c, nil
}

// middleware records every request under its route template.
func (m *Metrics) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		endpoint := c.FullPath()
		if endpoint == "" {
			endpoint = UnmatchedEndpoint
		}
		method := c.Request.Method
		m.requests.WithLabelValues(endpoint, method).Inc()
		m.latency.WithLabelValues(endpoint, method).Observe(time.Since(start).Seconds())
		if c.Writer.Status() == http.StatusNotFound {
			m.notFound.Inc()
		}
	}
}
