package backup

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Record is one Kafka record as a line of a partition file.
type Record struct {
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
	// Timestamp is milliseconds since the Unix epoch.
	Timestamp int64    `json:"timestamp"`
	Key       []byte   `json:"key"`
	Value     []byte   `json:"value"`
	Headers   []Header `json:"headers,omitempty"`
}

// Header is a record header; a nil Value is a null header value.
type Header struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// FromKafka converts a consumed record.
func FromKafka(r *kgo.Record) (Record, error) {
	out := Record{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(), Key: r.Key, Value: r.Value}
	for _, h := range r.Headers {
		if !utf8.ValidString(h.Key) {
			return Record{}, fmt.Errorf("record %d/%d has a header key that is not UTF-8", r.Partition, r.Offset)
		}
		out.Headers = append(out.Headers, Header{Key: h.Key, Value: h.Value})
	}
	return out, nil
}

// ToKafka is the record to produce to topic.
func (r Record) ToKafka(topic string) *kgo.Record {
	k := &kgo.Record{Topic: topic, Partition: r.Partition, Key: r.Key, Value: r.Value, Timestamp: time.UnixMilli(r.Timestamp)}
	for _, h := range r.Headers {
		k.Headers = append(k.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return k
}

// fileSum is what a written file ends as.
type fileSum struct {
	Bytes  int64
	SHA256 string
}

// countingHash counts and hashes what passes through it.
type countingHash struct {
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.h.Write(p)
	c.n += int64(len(p))
	return len(p), nil
}

// RecordWriter writes a partition file.
type RecordWriter struct {
	f     *os.File
	sum   *countingHash
	buf   *bufio.Writer
	zw    *zstd.Encoder
	enc   *json.Encoder
	count int64
}

// CreateRecordFile creates path (which must not exist) for writing.
func CreateRecordFile(path string) (*RecordWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating record file: %w", err)
	}
	sum := &countingHash{h: sha256.New()}
	buf := bufio.NewWriterSize(io.MultiWriter(f, sum), 256<<10)
	zw, err := zstd.NewWriter(buf, zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("starting zstd for %s: %w", path, err)
	}
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	return &RecordWriter{f: f, sum: sum, buf: buf, zw: zw, enc: enc}, nil
}

// Write appends one record.
func (w *RecordWriter) Write(r Record) error {
	if err := w.enc.Encode(r); err != nil {
		return fmt.Errorf("writing record %d/%d: %w", r.Partition, r.Offset, err)
	}
	w.count++
	return nil
}

// Close finishes the stream, syncs the file and returns its size and sum.
func (w *RecordWriter) Close() (fileSum, error) {
	err := w.zw.Close()
	if err == nil {
		err = w.buf.Flush()
	}
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fileSum{}, fmt.Errorf("closing %s: %w", w.f.Name(), err)
	}
	return fileSum{Bytes: w.sum.n, SHA256: hex.EncodeToString(w.sum.h.Sum(nil))}, nil
}

// Abort closes the file without finishing it.
func (w *RecordWriter) Abort() {
	_ = w.zw.Close()
	_ = w.f.Close()
}

// RecordReader reads a partition file.
type RecordReader struct {
	f   *os.File
	zr  *zstd.Decoder
	dec *json.Decoder
}

// OpenRecordFile opens a partition file for reading.
func OpenRecordFile(path string) (*RecordReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening record file: %w", err)
	}
	zr, err := zstd.NewReader(bufio.NewReaderSize(f, 256<<10), zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("starting zstd for %s: %w", path, err)
	}
	dec := json.NewDecoder(zr)
	dec.DisallowUnknownFields()
	return &RecordReader{f: f, zr: zr, dec: dec}, nil
}

// Next returns the next record, or io.EOF after the last one.
func (r *RecordReader) Next() (Record, error) {
	var rec Record
	if err := r.dec.Decode(&rec); err != nil {
		if errors.Is(err, io.EOF) {
			return Record{}, io.EOF
		}
		return Record{}, fmt.Errorf("reading %s: %w", r.f.Name(), err)
	}
	return rec, nil
}

// Close closes the file.
func (r *RecordReader) Close() error {
	r.zr.Close()
	return r.f.Close()
}

// hashFile returns the size and SHA-256 of path.
func hashFile(path string) (fileSum, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileSum{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fileSum{}, fmt.Errorf("reading %s: %w", path, err)
	}
	return fileSum{Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}
