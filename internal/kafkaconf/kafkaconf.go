// Package kafkaconf turns Kafka settings (brokers, TLS, SASL) into sarama
// configurations for producers, consumers and admin clients, and ensures
// the event topic exists with the retention the log needs.
package kafkaconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"
)

// Security protocols (KAFKA_SECURITY_PROTOCOL), as named by Kafka clients.
const (
	ProtocolPlaintext     = "PLAINTEXT"
	ProtocolSSL           = "SSL"
	ProtocolSASLPlaintext = "SASL_PLAINTEXT"
	ProtocolSASLSSL       = "SASL_SSL"
)

// SASL mechanisms (KAFKA_SASL_MECHANISM).
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

// DefaultVersion is the Kafka protocol version sarama speaks unless
// configured: supported by Kafka 3.x and 4.x and by Redpanda.
var DefaultVersion = sarama.V3_6_0_0

// Settings are the connection settings shared by every Kafka client.
type Settings struct {
	Brokers          []string
	ClientID         string
	Version          string // e.g. "3.6.0"; empty = DefaultVersion
	SecurityProtocol string // default PLAINTEXT
	SASLMechanism    string // default PLAIN when SASL is on
	SASLUsername     string
	SASLPassword     string // never logged
	TLSCAFile        string
	TLSCertFile      string
	TLSKeyFile       string
	TLSSkipVerify    bool
	DialTimeout      time.Duration // default 5s
}

// Validate reports every problem at once.
func (s Settings) Validate() error {
	var errs []error
	if len(s.Brokers) == 0 {
		errs = append(errs, errors.New("kafka: no bootstrap servers"))
	}
	for _, b := range s.Brokers {
		if strings.TrimSpace(b) == "" || !strings.Contains(b, ":") {
			errs = append(errs, fmt.Errorf("kafka: broker %q is not host:port", b))
		}
	}
	if s.Version != "" {
		if _, err := sarama.ParseKafkaVersion(s.Version); err != nil {
			errs = append(errs, fmt.Errorf("kafka: version %q: %w", s.Version, err))
		}
	}
	switch s.protocol() {
	case ProtocolPlaintext, ProtocolSSL:
	case ProtocolSASLPlaintext, ProtocolSASLSSL:
		switch s.mechanism() {
		case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
		default:
			errs = append(errs, fmt.Errorf("kafka: SASL mechanism %q not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)", s.SASLMechanism))
		}
		if s.SASLUsername == "" {
			errs = append(errs, errors.New("kafka: SASL needs a username"))
		}
	default:
		errs = append(errs, fmt.Errorf("kafka: security protocol %q not supported", s.SecurityProtocol))
	}
	if (s.TLSCertFile == "") != (s.TLSKeyFile == "") {
		errs = append(errs, errors.New("kafka: TLS client certificate and key must be given together"))
	}
	return errors.Join(errs...)
}

func (s Settings) protocol() string {
	if s.SecurityProtocol == "" {
		return ProtocolPlaintext
	}
	return strings.ToUpper(s.SecurityProtocol)
}

func (s Settings) mechanism() string {
	if s.SASLMechanism == "" {
		return MechanismPlain
	}
	return strings.ToUpper(s.SASLMechanism)
}

// Base returns a sarama configuration with connection, TLS and SASL set;
// callers add producer or consumer settings.
func (s Settings) Base() (*sarama.Config, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	cfg := sarama.NewConfig()
	cfg.ClientID = s.ClientID
	if cfg.ClientID == "" {
		cfg.ClientID = "soma"
	}
	cfg.Version = DefaultVersion
	if s.Version != "" {
		cfg.Version, _ = sarama.ParseKafkaVersion(s.Version)
	}
	dial := s.DialTimeout
	if dial <= 0 {
		dial = 5 * time.Second
	}
	cfg.Net.DialTimeout = dial
	cfg.Net.ReadTimeout = 30 * time.Second
	cfg.Net.WriteTimeout = 30 * time.Second
	cfg.Metadata.Retry.Max = 3
	cfg.Metadata.Retry.Backoff = 250 * time.Millisecond

	proto := s.protocol()
	if proto == ProtocolSSL || proto == ProtocolSASLSSL {
		tc, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		cfg.Net.TLS.Enable = true
		cfg.Net.TLS.Config = tc
	}
	if proto == ProtocolSASLPlaintext || proto == ProtocolSASLSSL {
		cfg.Net.SASL.Enable = true
		cfg.Net.SASL.Handshake = true
		cfg.Net.SASL.User = s.SASLUsername
		cfg.Net.SASL.Password = s.SASLPassword
		switch s.mechanism() {
		case MechanismPlain:
			cfg.Net.SASL.Mechanism = sarama.SASLTypePlaintext
		case MechanismSCRAMSHA256:
			cfg.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
			cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA256} }
		case MechanismSCRAMSHA512:
			cfg.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
			cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA512} }
		}
	}
	return cfg, nil
}

func (s Settings) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: s.TLSSkipVerify} // #nosec G402 -- off unless KAFKA_SSL_INSECURE_SKIP_VERIFY is set (an explicit operator opt-in)
	if s.TLSCAFile != "" {
		pem, err := os.ReadFile(s.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka: CA file %s holds no PEM certificate", s.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	if s.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.TLSCertFile, s.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: load client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Producer returns a configuration for an idempotent, acks=all synchronous
// producer whose every request is bounded by timeout.
func (s Settings) Producer(timeout time.Duration) (*sarama.Config, error) {
	cfg, err := s.Base()
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	cfg.Producer.Timeout = timeout
	cfg.Producer.Retry.Max = 3
	cfg.Producer.Retry.Backoff = 100 * time.Millisecond
	cfg.Producer.Partitioner = sarama.NewHashPartitioner
	cfg.Producer.Compression = sarama.CompressionLZ4
	cfg.Producer.MaxMessageBytes = 16 << 20
	cfg.Producer.Flush.MaxMessages = 0
	cfg.Net.DialTimeout = min(cfg.Net.DialTimeout, timeout)
	cfg.Net.ReadTimeout = timeout
	cfg.Net.WriteTimeout = timeout
	return cfg, nil
}

// Consumer returns a configuration for a consumer group member that starts
// from the oldest offset when the group has no committed offset (a new
// projection must see the whole log) and commits only what it marks.
func (s Settings) Consumer() (*sarama.Config, error) {
	cfg, err := s.Base()
	if err != nil {
		return nil, err
	}
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = true
	cfg.Consumer.Offsets.AutoCommit.Interval = time.Second
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.Fetch.Default = 4 << 20
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	return cfg, nil
}

// scramClient adapts xdg-go/scram to sarama.SCRAMClient.
type scramClient struct {
	hash scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

func (c *scramClient) Begin(user, password, authzID string) error {
	cl, err := c.hash.NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	c.conv = cl.NewConversation()
	return nil
}

func (c *scramClient) Step(challenge string) (string, error) { return c.conv.Step(challenge) }

func (c *scramClient) Done() bool { return c.conv.Done() }
