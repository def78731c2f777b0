package kafka

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/plugin/kslog"
)

// SCRAM mechanisms Heimdall authenticates with.
const (
	ScramSHA512 = "SCRAM-SHA-512"
	ScramSHA256 = "SCRAM-SHA-256"
)

// SASL is a SCRAM principal: its mechanism, user name and password.
type SASL struct {
	Mechanism string // ScramSHA512 or ScramSHA256
	User      string
	Password  string
}

// Config is what every Heimdall Kafka client needs.
type Config struct {
	Brokers []string
	TLS     *tls.Config // required: Heimdall never speaks plaintext to Kafka
	// SASL authenticates the client with SCRAM over TLS. Without it the TLS
	// configuration must carry a client certificate (mTLS): Heimdall never
	// connects to Kafka unauthenticated.
	SASL     *SASL
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
	switch {
	case c.SASL != nil:
		if c.SASL.Mechanism != ScramSHA512 && c.SASL.Mechanism != ScramSHA256 {
			errs = append(errs, fmt.Errorf("kafka: SASL mechanism must be %s or %s", ScramSHA512, ScramSHA256))
		}
		if c.SASL.User == "" || c.SASL.Password == "" {
			errs = append(errs, errors.New("kafka: SASL needs a user and a password"))
		}
	case c.TLS != nil && len(c.TLS.Certificates) == 0 && c.TLS.GetClientCertificate == nil:
		errs = append(errs, errors.New("kafka: no authentication: configure a SCRAM principal or a client certificate"))
	}
	return errors.Join(errs...)
}

// mechanism is the franz-go SASL mechanism of s.
func (s *SASL) mechanism() sasl.Mechanism {
	a := scram.Auth{User: s.User, Pass: s.Password}
	if s.Mechanism == ScramSHA256 {
		return a.AsSha256Mechanism()
	}
	return a.AsSha512Mechanism()
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
	if c.SASL != nil {
		opts = append(opts, kgo.SASL(c.SASL.mechanism()))
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
