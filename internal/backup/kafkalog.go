package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/heimdallhub/heimdall/internal/kafka"
)

// Topic roles.
const (
	RoleEvents  = "events"
	RoleRejects = "rejects"
	RoleAudit   = "audit"
)

// Topic is a topic Heimdall owns and its role.
type Topic struct {
	Role string
	Name string
}

// stallTimeout bounds how long a backup waits for the next record of a
// partition it has not read to its end offset.
var stallTimeout = time.Minute

// topicLayout is what a topic looks like on the cluster.
type topicLayout struct {
	exists            bool
	partitions        int32
	replicationFactor int16
	configs           map[string]string // set on the topic itself
	starts, ends      map[int32]int64
}

func (l topicLayout) records() int64 {
	var n int64
	for p, e := range l.ends {
		n += e - l.starts[p]
	}
	return n
}

// describeTopic reads a topic's partitions, replication factor, own
// settings and offsets (ends: the last stable offsets).
func describeTopic(ctx context.Context, adm *kadm.Client, name string) (topicLayout, error) {
	details, err := adm.ListTopics(ctx, name)
	if err != nil {
		return topicLayout{}, fmt.Errorf("describing topic %s: %w", name, err)
	}
	d, ok := details[name]
	if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
		return topicLayout{}, nil
	}
	if d.Err != nil {
		return topicLayout{}, fmt.Errorf("describing topic %s: %w", name, d.Err)
	}
	l := topicLayout{exists: true, partitions: int32(len(d.Partitions)), configs: map[string]string{}}
	for _, p := range d.Partitions {
		if p.Err != nil {
			return topicLayout{}, fmt.Errorf("describing topic %s partition %d: %w", name, p.Partition, p.Err)
		}
		if p.Partition < 0 || p.Partition >= l.partitions {
			return topicLayout{}, fmt.Errorf("topic %s has partition %d among %d partitions", name, p.Partition, l.partitions)
		}
		if rf := int16(len(p.Replicas)); rf > l.replicationFactor {
			l.replicationFactor = rf
		}
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, name)
	if err != nil {
		return topicLayout{}, fmt.Errorf("describing the settings of topic %s: %w", name, err)
	}
	rc, err := rcs.On(name, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return topicLayout{}, fmt.Errorf("describing the settings of topic %s: %w", name, err)
	}
	for _, c := range rc.Configs {
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig && c.Value != nil && !c.Sensitive {
			l.configs[c.Key] = *c.Value
		}
	}
	if l.starts, err = listOffsets(ctx, adm.ListStartOffsets, name); err != nil {
		return topicLayout{}, err
	}
	if l.ends, err = listOffsets(ctx, adm.ListCommittedOffsets, name); err != nil {
		return topicLayout{}, err
	}
	return l, nil
}

func listOffsets(ctx context.Context, list func(context.Context, ...string) (kadm.ListedOffsets, error), name string) (map[int32]int64, error) {
	listed, err := list(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("listing the offsets of %s: %w", name, err)
	}
	out := map[int32]int64{}
	var errs []error
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("offset of %s/%d: %w", o.Topic, o.Partition, o.Err))
			return
		}
		out[o.Partition] = o.Offset
	})
	return out, errors.Join(errs...)
}

// exportTopic writes every record of t from the layout's start offsets up
// to its end offsets into dir/kafka/<role>/<partition>.ndjson.zst.
func exportTopic(ctx context.Context, cfg kafka.Config, t Topic, l topicLayout, dir string) (TopicManifest, map[string]fileSum, error) {
	tm := TopicManifest{Role: t.Role, Name: t.Name, Partitions: l.partitions, ReplicationFactor: l.replicationFactor, Configs: l.configs}
	if err := os.MkdirAll(filepath.Join(dir, "kafka", t.Role), 0o700); err != nil {
		return tm, nil, fmt.Errorf("creating the directory of topic %s: %w", t.Name, err)
	}
	writers := make([]*RecordWriter, l.partitions)
	defer func() {
		for _, w := range writers {
			if w != nil {
				w.Abort()
			}
		}
	}()
	pms := make([]PartitionManifest, l.partitions)
	next := make([]int64, l.partitions)
	contiguous := make([]bool, l.partitions)
	pending := map[int32]bool{}
	offsets := map[int32]kgo.Offset{}
	for p := range l.partitions {
		rel := path.Join("kafka", t.Role, strconv.Itoa(int(p))+".ndjson.zst")
		w, err := CreateRecordFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return tm, nil, err
		}
		writers[p] = w
		start, end := l.starts[p], l.ends[p]
		pms[p] = PartitionManifest{Partition: p, StartOffset: start, EndOffset: end, FirstOffset: -1, LastOffset: -1, File: rel}
		next[p], contiguous[p] = start, start == 0
		if end > start {
			pending[p] = true
			offsets[p] = kgo.NewOffset().At(start)
		}
	}
	if len(pending) > 0 {
		cl, err := kafka.NewClient(cfg,
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{t.Name: offsets}),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		)
		if err != nil {
			return tm, nil, err
		}
		defer cl.Close()
		lastRecord := time.Now()
		for len(pending) > 0 {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			fetches := cl.PollFetches(pctx)
			cancel()
			if err := ctx.Err(); err != nil {
				return tm, nil, err
			}
			var fetchErr error
			fetches.EachError(func(topic string, p int32, err error) {
				if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
					return
				}
				fetchErr = errors.Join(fetchErr, fmt.Errorf("fetching %s/%d: %w", topic, p, err))
			})
			if fetchErr != nil {
				return tm, nil, fetchErr
			}
			var writeErr error
			fetches.EachRecord(func(r *kgo.Record) {
				p := r.Partition
				if writeErr != nil || !pending[p] || r.Offset >= l.ends[p] {
					return
				}
				rec, err := FromKafka(r)
				if err == nil {
					err = writers[p].Write(rec)
				}
				if err != nil {
					writeErr = err
					return
				}
				pm := &pms[p]
				if pm.FirstOffset < 0 {
					pm.FirstOffset = r.Offset
				}
				pm.LastOffset = r.Offset
				pm.Records++
				if r.Offset != next[p] {
					contiguous[p] = false
				}
				next[p] = r.Offset + 1
				if next[p] >= l.ends[p] {
					delete(pending, p)
				}
				lastRecord = time.Now()
			})
			if writeErr != nil {
				return tm, nil, writeErr
			}
			if len(pending) > 0 && time.Since(lastRecord) > stallTimeout {
				var stuck []string
				for p := range pending {
					stuck = append(stuck, fmt.Sprintf("%d (at %d of %d)", p, next[p], l.ends[p]))
				}
				sort.Strings(stuck)
				return tm, nil, fmt.Errorf("reading topic %s: no record for %s on partitions %v", t.Name, stallTimeout, stuck)
			}
		}
	}
	sums := map[string]fileSum{}
	for p := range l.partitions {
		sum, err := writers[p].Close()
		writers[p] = nil
		if err != nil {
			return tm, nil, err
		}
		sums[pms[p].File] = sum
		pms[p].Contiguous = contiguous[p] && next[p] == l.ends[p]
		tm.Records += pms[p].Records
	}
	tm.PartitionDetails = pms
	syncDir(filepath.Join(dir, "kafka", t.Role))
	return tm, sums, nil
}

// createTopic creates name as the manifest describes it (replication factor
// rf), waiting out a deletion of a topic of that name still in progress.
func createTopic(ctx context.Context, adm *kadm.Client, name string, tm TopicManifest, rf int16) error {
	configs := map[string]*string{}
	for k, v := range tm.Configs {
		configs[k] = kadm.StringPtr(v)
	}
	// A replication factor below the backed-up topic's cannot satisfy a
	// min.insync.replicas meant for it.
	if v, ok := tm.Configs["min.insync.replicas"]; ok {
		if n, err := strconv.Atoi(v); err == nil && n > int(rf) {
			configs["min.insync.replicas"] = kadm.StringPtr(strconv.Itoa(int(rf)))
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := adm.CreateTopic(ctx, tm.Partitions, rf, configs, name)
		if err == nil {
			err = resp.Err
		}
		if err == nil {
			break
		}
		if !errors.Is(err, kerr.TopicAlreadyExists) || time.Now().After(deadline) {
			return fmt.Errorf("creating topic %s: %w", name, err)
		}
		// Exists: being deleted (retry), or created meanwhile (check it).
		l, derr := describeTopic(ctx, adm, name)
		if derr == nil && l.exists {
			if l.partitions != tm.Partitions || l.records() > 0 {
				return fmt.Errorf("creating topic %s: it appeared meanwhile with %d partitions and %d records", name, l.partitions, l.records())
			}
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	// Wait until every partition has a leader.
	for {
		details, err := adm.ListTopics(ctx, name)
		ready := err == nil
		if ready {
			d := details[name]
			ready = d.Err == nil && int32(len(d.Partitions)) == tm.Partitions
			for _, p := range d.Partitions {
				ready = ready && p.Err == nil && p.Leader >= 0
			}
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s: partitions without a leader after creation", name)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// maxBatchBytes is the largest producer batch every topic accepts.
func maxBatchBytes(tms []TopicManifest) int32 {
	limit := int32(1 << 20)
	found := false
	for _, tm := range tms {
		if n, err := strconv.ParseInt(tm.Configs["max.message.bytes"], 10, 32); err == nil && n > 0 {
			if !found || int32(n) < limit {
				limit = int32(n)
			}
			found = true
		}
	}
	return limit
}

// producer produces restored records and remembers the first failure.
type producer struct {
	cl  *kgo.Client
	mu  sync.Mutex
	err error
}

func newProducer(cfg kafka.Config, batchBytes int32) (*producer, error) {
	cl, err := kafka.NewClient(cfg,
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent (franz-go's default) needs it; stated for the reader
		kgo.ProducerBatchMaxBytes(batchBytes),
		kgo.ProducerBatchCompression(kgo.ZstdCompression(), kgo.NoCompression()),
		// No delivery timeout: franz-go measures it from the record's
		// timestamp, which is the original (old) one. Retriable errors are
		// retried a bounded number of times instead.
		kgo.RecordRetries(60),
		kgo.MaxBufferedRecords(20000),
	)
	if err != nil {
		return nil, err
	}
	return &producer{cl: cl}, nil
}

func (p *producer) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *producer) produce(ctx context.Context, r *kgo.Record) {
	p.cl.Produce(ctx, r, func(r *kgo.Record, err error) {
		if err != nil {
			p.mu.Lock()
			if p.err == nil {
				p.err = fmt.Errorf("producing to %s/%d: %w", r.Topic, r.Partition, err)
			}
			p.mu.Unlock()
		}
	})
}

// importTopic produces every record of the topic's files to target, each
// to its partition in file (offset) order.
func importTopic(ctx context.Context, p *producer, dir, target string, tm TopicManifest, progress func(done int64)) error {
	var done int64
	for _, pm := range tm.PartitionDetails {
		rr, err := OpenRecordFile(filepath.Join(dir, filepath.FromSlash(pm.File)))
		if err != nil {
			return err
		}
		var n int64
		prev := int64(-1)
		for {
			rec, err := rr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err == nil && rec.Partition != pm.Partition {
				err = fmt.Errorf("%s: a record of partition %d", pm.File, rec.Partition)
			}
			if err == nil && rec.Offset <= prev {
				err = fmt.Errorf("%s: offset %d after %d", pm.File, rec.Offset, prev)
			}
			if err == nil {
				err = p.failed()
			}
			if err == nil {
				err = ctx.Err()
			}
			if err != nil {
				rr.Close()
				return err
			}
			prev = rec.Offset
			p.produce(ctx, rec.ToKafka(target))
			n++
			done++
			if progress != nil && done%10000 == 0 {
				progress(done)
			}
		}
		rr.Close()
		if n != pm.Records || (n > 0 && (prev != pm.LastOffset)) {
			return fmt.Errorf("%s: %d records up to offset %d, the manifest says %d up to %d", pm.File, n, prev, pm.Records, pm.LastOffset)
		}
	}
	if err := p.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flushing the records of %s: %w", target, err)
	}
	if progress != nil {
		progress(done)
	}
	return p.failed()
}
