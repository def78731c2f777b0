package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/heimdallhub/heimdall/commands/ingest"
	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/config/devstack"
	"github.com/heimdallhub/heimdall/internal/kafka"
	"github.com/heimdallhub/heimdall/internal/pii/piitest"
)

// kafkaConfig is the test tooling's Kafka client: the stack's admin.
func kafkaConfig(t *testing.T) kafka.Config {
	return devstack.Env(t).Kafka(t, devstack.KafkaAdmin)
}

// grantTopic lets principal do ops on one topic (a literal ACL) until the
// test ends, as an operator grants a downstream team one topic.
func grantTopic(t *testing.T, admin *kgo.Client, principal, topic string, ops ...kmsg.ACLOperation) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	b := kadm.NewACLs().Allow("User:" + principal).AllowHosts("*").Topics(topic).Operations(ops...).ResourcePatternType(kadm.ACLPatternLiteral)
	res, err := kadm.NewClient(admin).CreateACLs(ctx, b)
	if err == nil {
		for _, r := range res {
			err = errors.Join(err, r.Err)
		}
	}
	if err != nil {
		t.Fatalf("granting %s %v on %s: %v", principal, ops, topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = kadm.NewClient(admin).DeleteACLs(ctx, b)
	})
}

// TestUnacknowledgedProduceIsNotAccepted: with the real broker refusing the
// records (the topic does not exist and auto-creation is off), the ingest
// command reports the batch as not accepted.
func TestUnacknowledgedProduceIsNotAccepted(t *testing.T) {
	kc := kafkaConfig(t)
	p, err := kafka.NewProducer(kc, kafka.ProducerOptions{DeliveryTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	codec, _ := events.NewCodec()
	h, err := ingest.New(p, codec, ingest.Options{PeerID: "e2e", EventsTopic: "heimdall.e2e.missing." + randomSuffix(), RejectsTopic: "heimdall.e2e.missing-rejects." + randomSuffix(), PII: piitest.Engine(t, "")})
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.Handle(context.Background(), ingest.Command{
		Body: strings.NewReader(`{"src_ip":"192.0.2.1","dst_ip":"192.0.2.2"}`), Actor: events.Actor{Subject: "e2e"},
		RequestID: "req-missing-topic", BatchID: "batch-missing-topic",
	})
	if !errors.Is(err, ingest.ErrLogUnavailable) {
		t.Fatalf("err = %v (result %+v), want ErrLogUnavailable", err, res)
	}
}

// TestTopicsHaveExplicitSettings: topics Heimdall creates keep the log
// forever, and an existing topic with a deleting retention is refused.
func TestTopicsHaveExplicitSettings(t *testing.T) {
	kc := kafkaConfig(t)
	cl, err := kafka.NewClient(kc)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	name := "heimdall.e2e.topics." + randomSuffix()
	spec := kafka.TopicSpec{Name: name, Partitions: 4, ReplicationFactor: 1, Configs: kafka.EventLogConfigs(1)}
	for i := 0; i < 2; i++ { // idempotent
		if err := kafka.EnsureTopics(ctx, cl, spec); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(cl)
	defer adm.DeleteTopics(ctx, name) //nolint:errcheck
	rcs, err := adm.DescribeTopicConfigs(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On(name, nil)
	got := map[string]string{}
	for _, c := range rc.Configs {
		got[c.Key] = c.MaybeValue()
	}
	for k, want := range map[string]string{"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete", "min.insync.replicas": "1"} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	td, _ := adm.ListTopics(ctx, name)
	if n := len(td[name].Partitions); n != 4 {
		t.Errorf("%d partitions", n)
	}

	short := "heimdall.e2e.short." + randomSuffix()
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": kadm.StringPtr("60000")}, short); err != nil {
		t.Fatal(err)
	}
	defer adm.DeleteTopics(ctx, short) //nolint:errcheck
	err = kafka.EnsureTopics(ctx, cl, kafka.TopicSpec{Name: short, Partitions: 1, ReplicationFactor: 1, Configs: kafka.EventLogConfigs(1)})
	if err == nil || !strings.Contains(err.Error(), "retention.ms") {
		t.Fatalf("a topic that deletes data was accepted as the event log: %v", err)
	}
}
