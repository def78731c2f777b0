package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TopicSpec is a topic Heimdall owns and the settings it requires.
type TopicSpec struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16
	// Configs are topic-level settings; EventLogConfigs is the event log's.
	Configs map[string]string
}

// EventLogConfigs are the settings of a log that is the source of truth:
// nothing is ever deleted by time or size, and a write is acknowledged only
// when every in-sync replica has it.
func EventLogConfigs(replicationFactor int16) map[string]string {
	minISR := 1
	if replicationFactor >= 3 {
		minISR = 2
	}
	return map[string]string{
		"cleanup.policy":                 "delete",
		"retention.ms":                   "-1",
		"retention.bytes":                "-1",
		"min.insync.replicas":            strconv.Itoa(minISR),
		"message.timestamp.type":         "CreateTime",
		"unclean.leader.election.enable": "false",
		"max.message.bytes":              strconv.Itoa(8 << 20),
	}
}

// EnsureTopics creates the topics that do not exist and checks that those
// that do have the required partition count and settings. Existing topics
// are never altered silently: a mismatch is an error naming the setting.
func EnsureTopics(ctx context.Context, cl *kgo.Client, specs ...TopicSpec) error {
	adm := kadm.NewClient(cl)
	var errs []error
	for _, s := range specs {
		// A topic that exists is only checked: a principal without the
		// Create permission (least privilege) runs against topics an
		// administrator made.
		if details, err := adm.ListTopics(ctx, s.Name); err == nil {
			if d, ok := details[s.Name]; ok && d.Err == nil {
				if err := checkTopic(ctx, adm, s); err != nil {
					errs = append(errs, err)
				}
				continue
			}
		}
		cfg := map[string]*string{}
		for k, v := range s.Configs {
			cfg[k] = kadm.StringPtr(v)
		}
		resp, err := adm.CreateTopic(ctx, s.Partitions, s.ReplicationFactor, cfg, s.Name)
		if err == nil {
			err = resp.Err
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, kerr.TopicAlreadyExists):
			if err := checkTopic(ctx, adm, s); err != nil {
				errs = append(errs, err)
			}
		case errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed):
			errs = append(errs, fmt.Errorf("topic %s does not exist, and this Kafka principal may not create it: create it as the Kafka administrator (heimdall topics create): %w", s.Name, err))
		default:
			errs = append(errs, fmt.Errorf("creating topic %s: %w", s.Name, err))
		}
	}
	return errors.Join(errs...)
}

// checkTopic checks an existing topic against s. A topic created moments
// ago may not be known to every part of the cluster yet: an unknown topic
// is asked about again for up to 15 seconds.
func checkTopic(ctx context.Context, adm *kadm.Client, s TopicSpec) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := checkTopicOnce(ctx, adm, s)
		if !errors.Is(err, kerr.UnknownTopicOrPartition) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func checkTopicOnce(ctx context.Context, adm *kadm.Client, s TopicSpec) error {
	details, err := adm.ListTopics(ctx, s.Name)
	if err != nil {
		return fmt.Errorf("describing topic %s: %w", s.Name, err)
	}
	d, ok := details[s.Name]
	if !ok {
		return fmt.Errorf("describing topic %s: %w", s.Name, kerr.UnknownTopicOrPartition)
	}
	if d.Err != nil {
		return fmt.Errorf("describing topic %s: %w", s.Name, d.Err)
	}
	if got := int32(len(d.Partitions)); got < s.Partitions {
		return fmt.Errorf("topic %s has %d partitions, configured %d", s.Name, got, s.Partitions)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, s.Name)
	if err != nil {
		return fmt.Errorf("describing topic %s configs: %w", s.Name, err)
	}
	rc, err := rcs.On(s.Name, nil)
	if err != nil {
		return fmt.Errorf("describing topic %s configs: %w", s.Name, err)
	}
	have := map[string]string{}
	for _, c := range rc.Configs {
		have[c.Key] = c.MaybeValue()
	}
	var errs []error
	for _, k := range []string{"retention.ms", "retention.bytes", "cleanup.policy"} {
		if want, ok := s.Configs[k]; ok && have[k] != want {
			errs = append(errs, fmt.Errorf("topic %s has %s=%s, Heimdall requires %s", s.Name, k, have[k], want))
		}
	}
	return errors.Join(errs...)
}

// EndOffsets returns the high watermark of every partition of topic.
func EndOffsets(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("listing end offsets of %s: %w", topic, err)
	}
	return offsetsOf(ends, "end offset")
}

// offsetsOf returns the listed offset of every partition, or the errors of
// those that failed (what names the offsets in them).
func offsetsOf(listed kadm.ListedOffsets, what string) (map[int32]int64, error) {
	out := map[int32]int64{}
	var errs []error
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("%s of %s/%d: %w", what, o.Topic, o.Partition, o.Err))
			return
		}
		out[o.Partition] = o.Offset
	})
	return out, errors.Join(errs...)
}
