package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/kafka"
)

// TestKafkaRefusesStrangers probes the stack's broker with real clients
// (franz-go, and kcat over librdkafka): a client without credentials, one
// with a wrong password and one of an unknown user get nothing; the
// downstream principal reads the event log it was granted but neither
// the audit trail nor the rejects, and may not produce anywhere; the
// one-process principal may not touch a topic outside Heimdall's prefix.
func TestKafkaRefusesStrangers(t *testing.T) {
	requireStack(t)
	st := devstack.Env(t)
	admin, err := kafka.NewClient(kafkaConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	run := "heimdall.e2e.acl." + randomSuffix()
	eventsT, auditT, rejectsT, outside := run+".events", run+".audit", run+".rejects", "other.e2e.acl."+randomSuffix()
	for _, topic := range []string{eventsT, auditT, rejectsT, outside} {
		if err := kafka.EnsureTopics(ctx, admin, kafka.TopicSpec{Name: topic, Partitions: 1, ReplicationFactor: 1}); err != nil {
			t.Fatal(err)
		}
		if err := admin.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("secret of " + topic)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { deleteTopics(t, admin, eventsT, auditT, rejectsT, outside) })
	grantTopic(t, admin, devstack.KafkaDownstream, eventsT, kmsg.ACLOperationRead, kmsg.ACLOperationDescribe)

	client := func(t *testing.T, auth *kafka.SASL) *kgo.Client {
		t.Helper()
		opts := []kgo.Opt{kgo.SeedBrokers(st.KafkaBrokers...), kgo.DialTLSConfig(st.TLSConfig()),
			kgo.RetryTimeout(5 * time.Second), kgo.RequestRetries(1)}
		if auth != nil {
			opts = append(opts, kgo.SASL(scram.Auth{User: auth.User, Pass: auth.Password}.AsSha512Mechanism()))
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	principal := func(name string) *kafka.SASL {
		return &kafka.SASL{Mechanism: kafka.ScramSHA512, User: name, Password: st.KafkaPassword(t, name)}
	}
	// fetch reads topic from the start and returns the first error.
	fetch := func(t *testing.T, cl *kgo.Client, topic string) error {
		t.Helper()
		fctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		cl.AddConsumeTopics(topic)
		defer cl.PurgeTopicsFromConsuming(topic)
		for {
			fs := cl.PollFetches(fctx)
			if err := fs.Err0(); err != nil {
				return err
			}
			if fs.NumRecords() > 0 {
				return nil
			}
		}
	}
	produce := func(t *testing.T, cl *kgo.Client, topic string) error {
		t.Helper()
		pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		return cl.ProduceSync(pctx, &kgo.Record{Topic: topic, Value: []byte("forged")}).FirstErr()
	}
	metadata := func(t *testing.T, cl *kgo.Client) error {
		t.Helper()
		mctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		_, err := kmsg.NewPtrMetadataRequest().RequestWith(mctx, cl)
		return err
	}

	t.Run("no credentials", func(t *testing.T) {
		cl := client(t, nil)
		if err := metadata(t, cl); err == nil {
			t.Fatal("a client without credentials got metadata")
		}
		if err := produce(t, cl, eventsT); err == nil {
			t.Fatal("a client without credentials appended to the event log")
		}
	})
	t.Run("controller listener", func(t *testing.T) {
		// Only the broker, with its certificate, may speak to the
		// controller; a client with the CA's trust but no certificate,
		// with or without SCRAM, gets nothing.
		addr := os.Getenv("HEIMDALL_KAFKA_CONTROLLER")
		if addr == "" {
			t.Fatal("HEIMDALL_KAFKA_CONTROLLER is not set: source .stack/env")
		}
		for _, auth := range []*kafka.SASL{nil, principal(devstack.KafkaAdmin)} {
			opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.DialTLSConfig(st.TLSConfig()), kgo.RetryTimeout(5 * time.Second), kgo.RequestRetries(1)}
			if auth != nil {
				opts = append(opts, kgo.SASL(scram.Auth{User: auth.User, Pass: auth.Password}.AsSha512Mechanism()))
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				t.Fatal(err)
			}
			err = metadata(t, cl)
			cl.Close()
			if err == nil {
				t.Errorf("a client (SCRAM %v) got metadata from the controller listener", auth != nil)
			}
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		cl := client(t, &kafka.SASL{User: devstack.KafkaHeimdall, Password: "not-the-password"})
		err := metadata(t, cl)
		if !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		cl := client(t, &kafka.SASL{User: "mallory", Password: "whatever"})
		if err := metadata(t, cl); !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("unknown user: %v, want SASL_AUTHENTICATION_FAILED", err)
		}
	})
	t.Run("downstream", func(t *testing.T) {
		cl := client(t, principal(devstack.KafkaDownstream))
		if err := fetch(t, cl, eventsT); err != nil {
			t.Fatalf("downstream cannot read the event log it was granted: %v", err)
		}
		for _, topic := range []string{auditT, rejectsT, outside} {
			if err := fetch(t, client(t, principal(devstack.KafkaDownstream)), topic); !errors.Is(err, kerr.TopicAuthorizationFailed) {
				t.Errorf("downstream reading %s: %v, want TOPIC_AUTHORIZATION_FAILED", topic, err)
			}
		}
		for _, topic := range []string{eventsT, auditT} {
			if err := produce(t, cl, topic); !refused(err) {
				t.Errorf("downstream producing to %s: %v, want an authorization failure", topic, err)
			}
		}
	})
	t.Run("ingest principal cannot read", func(t *testing.T) {
		if err := fetch(t, client(t, principal(devstack.KafkaIngest)), auditT); !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Errorf("heimdall-ingest reading the audit topic: %v, want TOPIC_AUTHORIZATION_FAILED", err)
		}
	})
	t.Run("projector principal cannot write", func(t *testing.T) {
		if err := produce(t, client(t, principal(devstack.KafkaProjector)), eventsT); !refused(err) {
			t.Errorf("heimdall-projector producing: %v, want an authorization failure", err)
		}
	})
	t.Run("heimdall outside its prefix", func(t *testing.T) {
		cl := client(t, principal(devstack.KafkaHeimdall))
		if err := produce(t, cl, outside); !refused(err) {
			t.Errorf("heimdall producing to %s: %v, want an authorization failure", outside, err)
		}
		if err := produce(t, cl, eventsT); err != nil {
			t.Errorf("heimdall producing to its own topic: %v", err)
		}
	})

	// The same through kcat (librdkafka), a client that shares no code
	// with Heimdall.
	t.Run("kcat", func(t *testing.T) {
		kcat := os.Getenv("HEIMDALL_KCAT")
		if kcat == "" {
			t.Fatal("HEIMDALL_KCAT is not set: deploy/stack.sh up installs kcat (Debian trixie's, whose librdkafka speaks SCRAM to Kafka 4) and names it in .stack/env")
		}
		conf := func(user, password string) string {
			lines := []string{"ssl.ca.location=" + st.CAFile, "ssl.endpoint.identification.algorithm=https"}
			if user == "" {
				lines = append(lines, "security.protocol=SSL")
			} else {
				lines = append(lines, "security.protocol=SASL_SSL", "sasl.mechanisms=SCRAM-SHA-512",
					"sasl.username="+user, "sasl.password="+password)
			}
			f := filepath.Join(t.TempDir(), "kcat.conf")
			if err := os.WriteFile(f, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return f
		}
		kc := func(config string, args ...string) (string, error) {
			kctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(kctx, kcat, append([]string{"-F", config, "-b", st.KafkaBrokers[0], "-m", "10"}, args...)...)
			cmd.Stdin = strings.NewReader("forged by kcat\n")
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		downstream := conf(devstack.KafkaDownstream, st.KafkaPassword(t, devstack.KafkaDownstream))
		for _, tc := range []struct {
			name   string
			config string
			args   []string
			ok     bool
		}{
			{"no credentials", conf("", ""), []string{"-L"}, false},
			{"wrong password", conf(devstack.KafkaHeimdall, "not-the-password"), []string{"-L"}, false},
			{"downstream reads the event log", downstream, []string{"-C", "-t", eventsT, "-o", "beginning", "-c", "1", "-e"}, true},
			{"downstream reads the audit trail", downstream, []string{"-C", "-t", auditT, "-o", "beginning", "-c", "1", "-e"}, false},
			{"downstream produces", downstream, []string{"-P", "-t", eventsT}, false},
		} {
			out, err := kc(tc.config, tc.args...)
			secret := fmt.Sprintf("secret of %s", auditT)
			switch {
			case tc.ok && (err != nil || !strings.Contains(out, "secret of "+eventsT)):
				t.Errorf("kcat %s: %v\n%s", tc.name, err, out)
			case !tc.ok && err == nil:
				t.Errorf("kcat %s succeeded:\n%s", tc.name, out)
			case strings.Contains(out, secret):
				t.Errorf("kcat %s read the audit trail:\n%s", tc.name, out)
			}
		}
	})
}

// refused reports an authorization failure of a produce: on the topic, or
// on the cluster (an idempotent producer without Write on any topic is
// refused its producer id).
func refused(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed)
}

// deleteTopics removes test topics as the admin (best effort).
func deleteTopics(t *testing.T, admin *kgo.Client, topics ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TopicNames = topics
	for _, n := range topics {
		tp := kmsg.NewDeleteTopicsRequestTopic()
		tp.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, tp)
	}
	_, _ = req.RequestWith(ctx, admin)
}

// TestKafkaMutualTLS runs Heimdall authenticating to Kafka with a client
// certificate alone (HEIMDALL_KAFKA_SASL_MECHANISM=none) on the broker's
// mutual-TLS listener, whose rule maps the certificate to the principal
// heimdall: an upload reaches the graph. A client without a certificate
// gets nothing from that listener.
func TestKafkaMutualTLS(t *testing.T) {
	requireStack(t)
	in := newInstance(t)
	mtls := in.st.KafkaMTLS(t)
	in.serve("serve", mtls)
	res := in.mustIngest(flowLines(0, 200), "source=mtls")
	if res.Accepted != 200 {
		t.Fatalf("accepted %d of 200", res.Accepted)
	}
	s := in.store()
	in.waitProjected(s, 2*time.Minute)
	if v, _, err := s.Counts(t.Context()); err != nil || v == 0 {
		t.Fatalf("graph after an upload over mTLS: %d vertices, %v", v, err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(mtls["HEIMDALL_KAFKA_BROKERS"]), kgo.DialTLSConfig(in.st.TLSConfig()),
		kgo.RetryTimeout(5*time.Second), kgo.RequestRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl); err == nil {
		t.Fatal("a client without a certificate got metadata from the mutual-TLS listener")
	}
}
