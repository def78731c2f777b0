package exchange

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// ContentType is the media type of the sync stream.
const ContentType = "application/vnd.heimdall.sync.v1"

// HeaderVia is the Kafka header listing the peers a record passed through
// before the peer holding it, origin first, comma-separated.
const HeaderVia = "heimdall.sync.via"

// Frame types.
const (
	frameRecord = 'R'
	frameCursor = 'C'
	frameEnds   = 'E'
)

// Limits a reader enforces on untrusted input.
const (
	MaxFrameBytes = 16 << 20 // a record's key, value and headers together
	MaxHeaders    = 64
	MaxPartitions = 100_000
)

// Errors of the stream reader.
var (
	ErrFrame    = errors.New("malformed sync frame")
	ErrTooLarge = errors.New("sync frame exceeds the limit")
)

// Record is one log record on the stream.
type Record struct {
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
}

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Header returns the value of the header named key, and whether it is set.
func (r Record) Header(key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// Cursor is the next offset to read per partition of an exporter's events
// topic. A partition it does not name is read from its start.
type Cursor map[int32]int64

// String renders the cursor as "p:offset,p:offset" in partition order: the
// form of the cursor query parameter.
func (c Cursor) String() string {
	parts := slices.Sorted(maps.Keys(c))
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d:%d", p, c[p])
	}
	return b.String()
}

// ParseCursor parses the form String writes; "" is the empty cursor.
func ParseCursor(s string) (Cursor, error) {
	c := Cursor{}
	if s == "" {
		return c, nil
	}
	items := strings.Split(s, ",")
	if len(items) > MaxPartitions {
		return nil, fmt.Errorf("cursor names more than %d partitions", MaxPartitions)
	}
	for _, it := range items {
		ps, os, ok := strings.Cut(it, ":")
		p, err1 := strconv.ParseInt(ps, 10, 32)
		o, err2 := strconv.ParseInt(os, 10, 64)
		if !ok || err1 != nil || err2 != nil || p < 0 || o < 0 {
			return nil, fmt.Errorf("cursor item %q is not partition:offset", it)
		}
		if _, dup := c[int32(p)]; dup {
			return nil, fmt.Errorf("cursor names partition %d twice", p)
		}
		c[int32(p)] = o
	}
	return c, nil
}

// Clone returns a copy of c.
func (c Cursor) Clone() Cursor { return maps.Clone(c) }

// Writer writes frames to a stream.
type Writer struct {
	w   *bufio.Writer
	buf []byte
}

// NewWriter returns a frame writer on w; call Flush to push frames out.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriterSize(w, 64<<10)} }

// WriteRecord writes a record frame.
func (w *Writer) WriteRecord(r Record) error {
	b := w.buf[:0]
	b = binary.AppendUvarint(b, uint64(r.Partition))
	b = binary.AppendUvarint(b, uint64(r.Offset))
	b = appendBytes(b, r.Key)
	b = appendBytes(b, r.Value)
	b = binary.AppendUvarint(b, uint64(len(r.Headers)))
	for _, h := range r.Headers {
		b = appendBytes(b, []byte(h.Key))
		b = appendBytes(b, h.Value)
	}
	w.buf = b
	if len(b) > MaxFrameBytes {
		return ErrTooLarge
	}
	return w.frame(frameRecord, b)
}

// WriteCursor writes a cursor frame.
func (w *Writer) WriteCursor(c Cursor) error { return w.writeOffsets(frameCursor, c) }

func (w *Writer) writeOffsets(typ byte, c Cursor) error {
	b := binary.AppendUvarint(w.buf[:0], uint64(len(c)))
	for _, p := range slices.Sorted(maps.Keys(c)) {
		b = binary.AppendUvarint(b, uint64(p))
		b = binary.AppendUvarint(b, uint64(c[p]))
	}
	w.buf = b
	return w.frame(typ, b)
}

// WriteEnds writes an ends frame: the exporter's end offsets per partition
// when it read, from which the importer computes its lag.
func (w *Writer) WriteEnds(c Cursor) error { return w.writeOffsets(frameEnds, c) }

// Flush writes buffered frames to the underlying writer.
func (w *Writer) Flush() error { return w.w.Flush() }

func (w *Writer) frame(typ byte, body []byte) error {
	var hdr [1 + binary.MaxVarintLen64]byte
	hdr[0] = typ
	n := binary.PutUvarint(hdr[1:], uint64(len(body)))
	if _, err := w.w.Write(hdr[:1+n]); err != nil {
		return err
	}
	_, err := w.w.Write(body)
	return err
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// Reader reads frames from an untrusted stream.
type Reader struct {
	r    *bufio.Reader
	buf  []byte
	ends Cursor
}

// Ends returns the last ends frame read (nil before one).
func (r *Reader) Ends() Cursor { return r.ends }

// NewReader returns a frame reader on r.
func NewReader(r io.Reader) *Reader { return &Reader{r: bufio.NewReaderSize(r, 64<<10)} }

// Next returns the next record or cursor frame (an ends frame is kept for
// Ends and skipped). At the end
// of a well-formed stream it returns io.EOF; a stream cut inside a frame
// returns io.ErrUnexpectedEOF. The record's byte slices stay valid until
// the next call.
func (r *Reader) Next() (*Record, Cursor, error) {
	for {
		rec, c, ends, err := r.next()
		if ends != nil {
			r.ends = ends
			continue
		}
		return rec, c, err
	}
}

func (r *Reader) next() (*Record, Cursor, Cursor, error) {
	typ, err := r.r.ReadByte()
	if err != nil {
		return nil, nil, nil, err // io.EOF between frames: the end
	}
	n, err := binary.ReadUvarint(r.r)
	if err != nil {
		return nil, nil, nil, unexpected(err)
	}
	if n > MaxFrameBytes {
		return nil, nil, nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	if cap(r.buf) < int(n) {
		r.buf = make([]byte, n)
	}
	body := r.buf[:n]
	if _, err := io.ReadFull(r.r, body); err != nil {
		return nil, nil, nil, unexpected(err)
	}
	d := decoder{b: body}
	switch typ {
	case frameRecord:
		rec := &Record{Partition: d.int32(), Offset: d.int64()}
		rec.Key = d.bytes()
		rec.Value = d.bytes()
		nh := d.uvarint()
		if nh > MaxHeaders {
			return nil, nil, nil, fmt.Errorf("%w: %d headers", ErrFrame, nh)
		}
		for range nh {
			k := d.bytes()
			v := d.bytes()
			rec.Headers = append(rec.Headers, Header{Key: string(k), Value: v})
		}
		if err := d.done(); err != nil {
			return nil, nil, nil, err
		}
		return rec, nil, nil, nil
	case frameCursor, frameEnds:
		np := d.uvarint()
		if np > MaxPartitions {
			return nil, nil, nil, fmt.Errorf("%w: %d partitions", ErrFrame, np)
		}
		c := make(Cursor, np)
		for range np {
			p, o := d.int32(), d.int64()
			if _, dup := c[p]; dup && d.err == nil {
				d.err = fmt.Errorf("%w: partition %d twice in a cursor", ErrFrame, p)
			}
			c[p] = o
		}
		if err := d.done(); err != nil {
			return nil, nil, nil, err
		}
		if typ == frameEnds {
			return nil, nil, c, nil
		}
		return nil, c, nil, nil
	}
	return nil, nil, nil, fmt.Errorf("%w: unknown frame type 0x%02x", ErrFrame, typ)
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// decoder reads a frame body; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad varint", ErrFrame)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int32() int32 {
	v := d.uvarint()
	if v > 1<<31-1 && d.err == nil {
		d.err = fmt.Errorf("%w: partition out of range", ErrFrame)
	}
	return int32(v)
}

func (d *decoder) int64() int64 {
	v := d.uvarint()
	if v > 1<<63-1 && d.err == nil {
		d.err = fmt.Errorf("%w: offset out of range", ErrFrame)
	}
	return int64(v)
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%w: length beyond the frame", ErrFrame)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrFrame, len(d.b))
	}
	return d.err
}
