package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ProducerOptions tune the producer.
type ProducerOptions struct {
	Linger          time.Duration
	MaxBufferedRecs int
	// DeliveryTimeout bounds how long a record may wait for an
	// acknowledgement before it is reported failed (the caller then does not
	// report it accepted).
	DeliveryTimeout time.Duration
	// Compression of record batches: zstd (the default), lz4, snappy, gzip
	// or none.
	Compression string
}

// Compressions lists the accepted ProducerOptions.Compression names.
var Compressions = []string{"zstd", "lz4", "snappy", "gzip", "none"}

func codec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "", "zstd":
		return kgo.ZstdCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "none":
		return kgo.NoCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("kafka: unknown compression %q (want one of %v)", name, Compressions)
}

// Producer appends records to Kafka with an idempotent producer and acks=all.
type Producer struct {
	cl *kgo.Client
}

// NewProducer returns a producer for cfg.
func NewProducer(cfg Config, o ProducerOptions) (*Producer, error) {
	if o.DeliveryTimeout == 0 {
		o.DeliveryTimeout = 2 * time.Minute
	}
	if o.MaxBufferedRecs == 0 {
		o.MaxBufferedRecs = 20000
	}
	comp, err := codec(o.Compression)
	if err != nil {
		return nil, err
	}
	cl, err := NewClient(cfg,
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotence (the default) requires it; stated for the reader
		kgo.ProducerLinger(o.Linger),
		kgo.MaxBufferedRecords(o.MaxBufferedRecs),
		kgo.RecordDeliveryTimeout(o.DeliveryTimeout),
		kgo.ProducerBatchCompression(comp, kgo.NoCompression()),
	)
	if err != nil {
		return nil, err
	}
	return &Producer{cl: cl}, nil
}

// Client is the underlying franz-go client (for topic administration and
// readiness checks).
func (p *Producer) Client() *kgo.Client { return p.cl }

// Append buffers one record; done is called once with nil when every in-sync
// replica has it, or with the error that prevented that. Append blocks while
// the producer buffer is full, which bounds memory.
func (p *Producer) Append(ctx context.Context, topic string, key, value []byte, headers map[string]string, done func(error)) {
	r := &kgo.Record{Topic: topic, Key: key, Value: value}
	for k, v := range headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	p.cl.Produce(ctx, r, func(_ *kgo.Record, err error) { done(err) })
}

// Ping checks that a broker answers.
func (p *Producer) Ping(ctx context.Context) error { return p.cl.Ping(ctx) }

// Close flushes what is buffered (bounded by ctx) and closes the client.
func (p *Producer) Close(ctx context.Context) {
	_ = p.cl.Flush(ctx)
	p.cl.Close()
}
