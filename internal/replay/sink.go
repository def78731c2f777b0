package replay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/kafka"
)

// Destination describes the topic a replay writes to.
type Destination struct {
	Topic      string
	Partitions int32
	// Created is true when EnsureDestination created the topic (or, for a
	// dry run, would create it).
	Created bool
}

// EnsureDestination checks that topic can receive the records of source
// in the same partition numbers: it must have as many partitions as source.
// A missing topic is created that way, with the event log's settings
// (kafka.EventLogConfigs) and replication factor rf, unless dryRun, which
// only reports that it would be.
func EnsureDestination(ctx context.Context, cfg kafka.Config, source, topic string, rf int16, dryRun bool) (Destination, error) {
	cl, err := kafka.NewClient(cfg, freshMetadata)
	if err != nil {
		return Destination{}, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	partitions := func(name string) (int32, bool, error) {
		td, err := adm.ListTopics(ctx, name)
		if err != nil {
			return 0, false, fmt.Errorf("describing topic %s: %w", name, err)
		}
		d, ok := td[name]
		switch {
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			return 0, false, nil
		case d.Err != nil:
			return 0, false, fmt.Errorf("describing topic %s: %w", name, d.Err)
		}
		return int32(len(d.Partitions)), true, nil
	}
	n, ok, err := partitions(source)
	if err != nil {
		return Destination{}, err
	}
	if !ok {
		return Destination{}, fmt.Errorf("source topic %s does not exist", source)
	}
	dest := Destination{Topic: topic, Partitions: n}
	have, exists, err := partitions(topic)
	if err != nil {
		return dest, err
	}
	if exists {
		if have != n {
			return dest, fmt.Errorf("topic %s has %d partitions and %s has %d: records keep their partition number, so both must have the same count", topic, have, source, n)
		}
		return dest, nil
	}
	dest.Created = true
	if dryRun {
		return dest, nil
	}
	spec := kafka.TopicSpec{Name: topic, Partitions: n, ReplicationFactor: rf, Configs: kafka.EventLogConfigs(rf)}
	if err := kafka.EnsureTopics(ctx, cl, spec); err != nil {
		return dest, err
	}
	// Wait until every partition has a leader, so the first produce does
	// not race the topic's creation.
	deadline := time.Now().Add(30 * time.Second)
	for {
		td, err := adm.ListTopics(ctx, topic)
		if err == nil {
			if d, ok := td[topic]; ok && d.Err == nil && int32(len(d.Partitions)) == n && allLed(d.Partitions) {
				return dest, nil
			}
		}
		if time.Now().After(deadline) {
			return dest, fmt.Errorf("topic %s created but its partitions have no leader after 30s", topic)
		}
		select {
		case <-ctx.Done():
			return dest, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freshMetadata lets a short-lived client look again soon at a topic it
// found missing or leaderless (franz-go caches metadata for five seconds by
// default), as right after a topic is created.
var freshMetadata = kgo.MetadataMinAge(250 * time.Millisecond)

func allLed(ps kadm.PartitionDetails) bool {
	for _, p := range ps {
		if p.Leader < 0 || p.Err != nil {
			return false
		}
	}
	return true
}

// TopicSink writes records unchanged to a topic, each to the partition
// number it was read from, with an idempotent producer and acks=all. It is
// internal/kafka's Producer configuration with a manual partitioner (the
// Producer hashes keys and takes headers as a map) and without a per-record
// delivery timeout: franz-go measures that from the record timestamp, which
// a replay keeps, so the bound applies to waiting for the
// acknowledgements in Close instead.
type TopicSink struct {
	cl      *kgo.Client
	topic   string
	timeout time.Duration
	written atomic.Int64
	mu      sync.Mutex
	err     error
}

// TopicSinkOptions tune the producer of a TopicSink.
type TopicSinkOptions struct {
	Linger          time.Duration
	MaxBufferedRecs int // default 20000
	// DeliveryTimeout bounds how long Close waits for the last
	// acknowledgements (default two minutes).
	DeliveryTimeout time.Duration
	Compression     string // zstd (default), lz4, snappy, gzip or none
}

// NewTopicSink returns a sink writing to topic.
func NewTopicSink(cfg kafka.Config, topic string, o TopicSinkOptions) (*TopicSink, error) {
	if o.MaxBufferedRecs <= 0 {
		o.MaxBufferedRecs = 20000
	}
	if o.DeliveryTimeout <= 0 {
		o.DeliveryTimeout = 2 * time.Minute
	}
	var comp kgo.CompressionCodec
	switch o.Compression {
	case "", "zstd":
		comp = kgo.ZstdCompression()
	case "lz4":
		comp = kgo.Lz4Compression()
	case "snappy":
		comp = kgo.SnappyCompression()
	case "gzip":
		comp = kgo.GzipCompression()
	case "none":
		comp = kgo.NoCompression()
	default:
		return nil, fmt.Errorf("unknown compression %q (want one of %v)", o.Compression, kafka.Compressions)
	}
	cl, err := kafka.NewClient(cfg,
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotence (the default) requires it; stated for the reader
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		freshMetadata,
		kgo.ProducerLinger(o.Linger),
		kgo.MaxBufferedRecords(o.MaxBufferedRecs),
		kgo.ProducerBatchCompression(comp, kgo.NoCompression()),
	)
	if err != nil {
		return nil, err
	}
	return &TopicSink{cl: cl, topic: topic, timeout: o.DeliveryTimeout}, nil
}

// Write buffers a copy of rec for the sink's topic: same partition, key,
// value, headers and timestamp. It blocks while the producer buffer is
// full and fails once any earlier record failed.
func (s *TopicSink) Write(ctx context.Context, rec *kgo.Record, _ events.Event) error {
	if err := s.failed(); err != nil {
		return err
	}
	out := &kgo.Record{
		Topic:     s.topic,
		Partition: rec.Partition,
		Key:       rec.Key,
		Value:     rec.Value,
		Headers:   slices.Clone(rec.Headers),
		Timestamp: rec.Timestamp,
	}
	s.cl.Produce(ctx, out, func(r *kgo.Record, err error) {
		if err != nil {
			s.mu.Lock()
			if s.err == nil {
				s.err = fmt.Errorf("appending to %s/%d: %w", s.topic, r.Partition, err)
			}
			s.mu.Unlock()
			return
		}
		s.written.Add(1)
	})
	return nil
}

func (s *TopicSink) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Written is how many records every in-sync replica has acknowledged.
func (s *TopicSink) Written() int64 { return s.written.Load() }

// Close waits for every buffered record's acknowledgement (bounded by ctx
// and the delivery timeout), closes the producer (failing what is still
// buffered) and reports the first failure.
func (s *TopicSink) Close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	flushErr := s.cl.Flush(ctx)
	s.cl.Close()
	if flushErr != nil {
		flushErr = fmt.Errorf("waiting for acknowledgements from %s: %w", s.topic, flushErr)
	}
	return errors.Join(s.failed(), flushErr)
}

// FileSink writes NDJSON lines (AppendNDJSON) to a writer or a file.
type FileSink struct {
	w       *bufio.Writer
	f       *os.File // nil when writing to a caller's writer
	tmp     string
	path    string
	buf     []byte
	written atomic.Int64
	closed  bool
}

// NewWriterSink writes NDJSON to w (standard output, for one).
func NewWriterSink(w io.Writer) *FileSink {
	return &FileSink{w: bufio.NewWriterSize(w, 256<<10)}
}

// CreateFileSink writes NDJSON to a temporary file beside path (mode
// 0600); Finish(true) renames it to path once Close has synced it, so a
// file at path is always a complete replay.
func CreateFileSink(path string) (*FileSink, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.partial")
	if err != nil {
		return nil, fmt.Errorf("creating the output file beside %s: %w", path, err)
	}
	return &FileSink{w: bufio.NewWriterSize(f, 256<<10), f: f, tmp: f.Name(), path: path}, nil
}

// Write appends the line of e read from rec.
func (s *FileSink) Write(_ context.Context, rec *kgo.Record, e events.Event) error {
	var err error
	s.buf, err = AppendNDJSON(s.buf[:0], Position{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp}, e)
	if err != nil {
		return err
	}
	if _, err := s.w.Write(s.buf); err != nil {
		return fmt.Errorf("writing NDJSON: %w", err)
	}
	s.written.Add(1)
	return nil
}

// Written is how many lines were written.
func (s *FileSink) Written() int64 { return s.written.Load() }

// Close flushes and, for a file, syncs and closes it.
func (s *FileSink) Close(context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.w.Flush()
	if err != nil {
		err = fmt.Errorf("writing NDJSON: %w", err)
	}
	if s.f != nil {
		if serr := s.f.Sync(); serr != nil && err == nil {
			err = fmt.Errorf("syncing %s: %w", s.tmp, serr)
		}
		if cerr := s.f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing %s: %w", s.tmp, cerr)
		}
	}
	return err
}

// Finish ends a file sink after Close: with ok, the file is renamed to its
// path; without, it is removed. It does nothing for a writer sink.
func (s *FileSink) Finish(ok bool) error {
	if s.f == nil {
		return nil
	}
	if !s.closed {
		if err := s.Close(context.Background()); err != nil {
			ok = false
		}
	}
	if !ok {
		if err := os.Remove(s.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", s.tmp, err)
		}
		return nil
	}
	if err := os.Rename(s.tmp, s.path); err != nil {
		return fmt.Errorf("moving the output into place at %s: %w", s.path, err)
	}
	return nil
}
