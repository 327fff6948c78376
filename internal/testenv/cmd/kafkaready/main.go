// Command kafkaready waits until a Kafka broker answers metadata requests
// and can coordinate consumer groups. scripts/test-services.sh runs it after
// starting the broker; it exits 0 once the broker is ready and 1 when the
// deadline passes first.
//
// Readiness means, in order: a metadata request succeeds and lists at least
// one broker, the cluster reports a controller, and a group coordinator can
// be found (which makes the broker create __consumer_offsets, so the first
// consumer group of a test does not pay for it).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/IBM/sarama"
)

// readinessGroup is the consumer group whose coordinator is looked up.
// No member ever joins it.
const readinessGroup = "soma-test-services-readiness"

type config struct {
	Brokers  []string
	Timeout  time.Duration
	Interval time.Duration
}

func (c config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("no brokers given"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout must be positive, got %s", c.Timeout))
	}
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("interval must be positive, got %s", c.Interval))
	}
	return errors.Join(errs...)
}

func main() {
	var (
		brokers string
		cfg     config
		quiet   bool
	)
	flag.StringVar(&brokers, "brokers", "127.0.0.1:59092", "comma-separated bootstrap brokers")
	flag.DurationVar(&cfg.Timeout, "timeout", 60*time.Second, "give up after this long")
	flag.DurationVar(&cfg.Interval, "interval", 250*time.Millisecond, "pause between attempts")
	flag.BoolVar(&quiet, "quiet", false, "print nothing on success")
	flag.Parse()
	for _, b := range strings.Split(brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Brokers = append(cfg.Brokers, b)
		}
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "kafkaready: %v\n", err)
		os.Exit(2)
	}

	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	start := time.Now()
	attempts, err := waitReady(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kafkaready: broker %s not ready after %s (%d attempts): %v\n",
			strings.Join(cfg.Brokers, ","), time.Since(start).Round(time.Millisecond), attempts, err)
		os.Exit(1)
	}
	if !quiet {
		fmt.Printf("kafkaready: broker %s ready after %s (%d attempts)\n",
			strings.Join(cfg.Brokers, ","), time.Since(start).Round(time.Millisecond), attempts)
	}
}

// waitReady polls until probe succeeds or ctx ends; it returns the number
// of attempts and, on failure, the last probe error.
func waitReady(ctx context.Context, cfg config) (int, error) {
	ticker := time.NewTicker(cfg.Interval)
	defer ticker.Stop()
	var attempts int
	for {
		attempts++
		err := probe(ctx, cfg.Brokers)
		if err == nil {
			return attempts, nil
		}
		select {
		case <-ctx.Done():
			return attempts, fmt.Errorf("%w; last error: %w", ctx.Err(), err)
		case <-ticker.C:
		}
	}
}

func probe(ctx context.Context, brokers []string) error {
	sc := sarama.NewConfig()
	sc.ClientID = "soma-kafkaready"
	sc.Version = sarama.V3_6_0_0
	sc.Net.DialTimeout = 2 * time.Second
	sc.Net.ReadTimeout = 5 * time.Second
	sc.Net.WriteTimeout = 2 * time.Second
	sc.Metadata.Retry.Max = 0
	sc.Metadata.Full = false
	// One attempt per probe: waitReady does the retrying against its deadline.
	client, err := sarama.NewClient(brokers, sc)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer client.Close()

	// Bound the probe by ctx even though sarama calls take no context.
	done := make(chan error, 1)
	go func() { done <- check(client) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func check(client sarama.Client) error {
	if err := client.RefreshMetadata(); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if len(client.Brokers()) == 0 {
		return errors.New("metadata lists no broker")
	}
	if _, err := client.Controller(); err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	if err := client.RefreshCoordinator(readinessGroup); err != nil {
		return fmt.Errorf("group coordinator: %w", err)
	}
	return nil
}
