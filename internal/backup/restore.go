package backup

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/heimdallhub/heimdall/internal/kafka"
)

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// Dir is the backup directory.
	Dir string
	// Kafka reaches the cluster; Topics name the target topic of each role.
	Kafka  kafka.Config
	Topics []Topic
	// ReplicationFactor of the topics Restore creates.
	ReplicationFactor int16
	// ConfiguredPartitions is HEIMDALL_KAFKA_PARTITIONS (0: unknown): a
	// backup with other partition counts gets a warning, as Heimdall would
	// refuse to start on fewer partitions than configured.
	ConfiguredPartitions int32
	// PostgresURL, CAFile, PostgresTLS and PGBinDir as in Options.
	PostgresURL string
	CAFile      string
	PostgresTLS *tls.Config
	PGBinDir    string
	// SkipPostgres restores the log alone.
	SkipPostgres bool
	// Force skips the checks that the target is empty.
	Force bool
	// Out receives progress lines (nil: none).
	Out io.Writer
}

func (o RestoreOptions) pg() pgTarget {
	return pgTarget{URL: o.PostgresURL, CAFile: o.CAFile, TLS: o.PostgresTLS, BinDir: o.PGBinDir}
}

// RestoredTopic is the outcome for one topic.
type RestoredTopic struct {
	Role, Name string
	Records    int64
	// SameOffsets: every record has its original offset.
	SameOffsets bool
}

// RestoreResult is what Restore did.
type RestoreResult struct {
	Manifest *Manifest
	Topics   []RestoredTopic
	// Postgres: the database was restored.
	Postgres bool
}

// Restore puts a backup back onto an empty stack: it checks the files
// against the manifest and the target (empty topics, empty database, tool
// versions) before it changes anything, then restores the log, verifies the
// end offsets, and restores the database unless o.SkipPostgres.
func Restore(ctx context.Context, o RestoreOptions) (*RestoreResult, error) {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	m, err := ReadManifest(o.Dir)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "backup of %s (Heimdall %s): checking %d files\n", m.StartedAt.Format("2006-01-02 15:04:05Z07:00"), m.HeimdallVersion, len(m.Files))
	if err := VerifyFiles(o.Dir, m); err != nil {
		return nil, err
	}
	if !o.SkipPostgres && m.Postgres == nil {
		return nil, errors.New("the backup holds no database dump (it was taken with -skip-postgres): restore with -skip-postgres, then heimdall projections rebuild")
	}
	if o.ReplicationFactor <= 0 {
		o.ReplicationFactor = 1
	}

	// Everything is checked before anything changes.
	var refusals []error
	type plan struct {
		target string
		tm     TopicManifest
		layout topicLayout
	}
	var plans []plan
	for _, t := range o.Topics {
		tm, ok := m.Topic(t.Role)
		if !ok {
			return nil, fmt.Errorf("the backup holds no %s topic", t.Role)
		}
		if !o.SkipPostgres && tm.Name != t.Name {
			refusals = append(refusals, fmt.Errorf("the %s topic was %s and is configured as %s: the dumped projections keep offsets by topic name (restore under the old name, or with -skip-postgres and a rebuild)",
				t.Role, tm.Name, t.Name))
		}
		if !o.SkipPostgres && !o.Force {
			for _, pm := range tm.PartitionDetails {
				if !pm.Contiguous {
					refusals = append(refusals, fmt.Errorf("topic %s partition %d had offsets from %d with gaps: restored records get new offsets the dumped projections do not know (use -skip-postgres and a rebuild, or -force and rebuild after)",
						tm.Name, pm.Partition, pm.StartOffset))
					break
				}
			}
		}
		if o.ConfiguredPartitions > 0 && tm.Partitions != o.ConfiguredPartitions {
			fmt.Fprintf(out, "warning: the %s topic has %d partitions, HEIMDALL_KAFKA_PARTITIONS says %d: set it to %d before Heimdall starts\n",
				t.Role, tm.Partitions, o.ConfiguredPartitions, tm.Partitions)
		}
		plans = append(plans, plan{target: t.Name, tm: tm})
	}
	admin, err := kafka.NewClient(o.Kafka)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	for i := range plans {
		p := &plans[i]
		if p.layout, err = describeTopic(ctx, adm, p.target); err != nil {
			return nil, err
		}
		if !p.layout.exists {
			continue
		}
		if p.layout.partitions != p.tm.Partitions {
			refusals = append(refusals, fmt.Errorf("topic %s exists with %d partitions, the backup has %d", p.target, p.layout.partitions, p.tm.Partitions))
		}
		if n := p.layout.records(); n > 0 && !o.Force {
			refusals = append(refusals, fmt.Errorf("topic %s already holds %d records: a restore needs empty or absent topics", p.target, n))
		}
	}
	var pgp pgPlan
	if !o.SkipPostgres {
		pgp, err = checkPostgresTarget(ctx, o.pg(), m.Postgres, o.Force)
		if err != nil {
			refusals = append(refusals, err)
		}
	}
	if len(refusals) > 0 {
		return nil, fmt.Errorf("refusing to restore (-force skips the emptiness checks):\n%w", errors.Join(refusals...))
	}

	res := &RestoreResult{Manifest: m}
	tms := make([]TopicManifest, len(plans))
	for i, p := range plans {
		tms[i] = p.tm
	}
	prod, err := newProducer(o.Kafka, maxBatchBytes(tms))
	if err != nil {
		return nil, err
	}
	defer prod.cl.Close()
	for _, p := range plans {
		before := map[int32]int64{}
		if p.layout.exists {
			before = p.layout.ends
			fmt.Fprintf(out, "topic %s exists (empty or forced): producing into it\n", p.target)
		} else {
			if err := createTopic(ctx, adm, p.target, p.tm, o.ReplicationFactor); err != nil {
				return res, err
			}
			fmt.Fprintf(out, "created topic %s: %d partitions, replication factor %d, %d settings\n", p.target, p.tm.Partitions, o.ReplicationFactor, len(p.tm.Configs))
		}
		err := importTopic(ctx, prod, o.Dir, p.target, p.tm, func(done int64) {
			fmt.Fprintf(out, "  %s: %d/%d records\n", p.target, done, p.tm.Records)
		})
		if err != nil {
			return res, fmt.Errorf("restoring topic %s (delete it before another attempt): %w", p.target, err)
		}
		rt, err := verifyTopic(ctx, adm, p.target, p.tm, before)
		if err != nil {
			return res, err
		}
		res.Topics = append(res.Topics, rt)
	}

	if !o.SkipPostgres {
		fmt.Fprintln(out, "restoring the database")
		if err := restorePostgres(ctx, o.pg(), pgp, o.Dir, m.Postgres, out); err != nil {
			return res, fmt.Errorf("the log is restored, the database is not: %w\nto try again, delete the topics, drop and recreate the database and run heimdall restore again", err)
		}
		res.Postgres = true
	}
	return res, nil
}

// verifyTopic checks that each partition grew by the manifest's count.
func verifyTopic(ctx context.Context, adm *kadm.Client, target string, tm TopicManifest, before map[int32]int64) (RestoredTopic, error) {
	ends, err := listOffsets(ctx, adm.ListEndOffsets, target)
	if err != nil {
		return RestoredTopic{}, err
	}
	rt := RestoredTopic{Role: tm.Role, Name: target, SameOffsets: true}
	var errs []error
	for _, pm := range tm.PartitionDetails {
		end, ok := ends[pm.Partition]
		if !ok {
			errs = append(errs, fmt.Errorf("topic %s has no partition %d", target, pm.Partition))
			continue
		}
		if got := end - before[pm.Partition]; got != pm.Records {
			errs = append(errs, fmt.Errorf("topic %s partition %d: %d records restored, the manifest says %d", target, pm.Partition, got, pm.Records))
		}
		rt.Records += end - before[pm.Partition]
		if !(before[pm.Partition] == 0 && pm.Contiguous && end == pm.EndOffset) {
			rt.SameOffsets = false
		}
	}
	if len(ends) != len(tm.PartitionDetails) {
		errs = append(errs, fmt.Errorf("topic %s has %d partitions, the backup %d", target, len(ends), len(tm.PartitionDetails)))
	}
	if len(errs) > 0 {
		return rt, fmt.Errorf("the restored log does not match the manifest:\n%w", errors.Join(errs...))
	}
	return rt, nil
}
