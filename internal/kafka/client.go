package kafka

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kslog"
)

// Config is what every Heimdall Kafka client needs.
type Config struct {
	Brokers  []string
	TLS      *tls.Config // required: Heimdall never speaks plaintext to Kafka
	ClientID string
	Logger   *slog.Logger
	// Hooks are franz-go hooks (metrics, tracing) added to every client.
	Hooks []kgo.Hook
}

// Validate reports what is missing.
func (c Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("kafka: no brokers"))
	}
	if c.TLS == nil {
		errs = append(errs, errors.New("kafka: TLS configuration required"))
	} else if c.TLS.MinVersion < tls.VersionTLS13 {
		errs = append(errs, errors.New("kafka: TLS 1.3 required"))
	}
	return errors.Join(errs...)
}

func (c Config) opts(extra ...kgo.Opt) []kgo.Opt {
	id := c.ClientID
	if id == "" {
		id = "heimdall"
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.DialTLSConfig(c.TLS.Clone()),
		kgo.ClientID(id),
		kgo.RetryTimeout(30 * time.Second),
	}
	if c.Logger != nil {
		opts = append(opts, kgo.WithLogger(kslog.New(c.Logger.With("component", "kafka"))))
	}
	if len(c.Hooks) > 0 {
		hooks := make([]kgo.Hook, len(c.Hooks))
		copy(hooks, c.Hooks)
		opts = append(opts, kgo.WithHooks(hooks...))
	}
	return append(opts, extra...)
}

// NewClient returns a franz-go client for cfg plus extra options.
func NewClient(cfg Config, extra ...kgo.Opt) (*kgo.Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return kgo.NewClient(cfg.opts(extra...)...)
}
