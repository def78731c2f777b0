package decompress

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/heimdallhub/heimdall/internal/format"
)

// Limits bound what decompressing one body may cost. Zero values mean the
// defaults.
type Limits struct {
	MaxCompressedBytes   int64  // body as read (default 1 GiB)
	MaxDecompressedBytes int64  // output (default 1 GiB)
	MaxRatio             int64  // output bytes per compressed byte (default 200)
	RatioMinBytes        int64  // output before MaxRatio applies (default 8 MiB)
	MaxDecoderMemory     uint64 // zstd window and decoder memory (default 64 MiB, at least 1 KiB)
}

// WithDefaults fills zero limits.
func (l Limits) WithDefaults() Limits {
	if l.MaxCompressedBytes <= 0 {
		l.MaxCompressedBytes = 1 << 30
	}
	if l.MaxDecompressedBytes <= 0 {
		l.MaxDecompressedBytes = 1 << 30
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = 200
	}
	if l.RatioMinBytes <= 0 {
		l.RatioMinBytes = 8 << 20
	}
	if l.MaxDecoderMemory == 0 {
		l.MaxDecoderMemory = 64 << 20
	}
	if l.MaxDecoderMemory < zstd.MinWindowSize {
		l.MaxDecoderMemory = zstd.MinWindowSize
	}
	return l
}

// Failure codes.
const (
	CodeUnsupportedEncoding = "unsupported_encoding"
	CodeTooLarge            = "too_large"
	CodeBomb                = "decompression_bomb"
	CodeTruncated           = "truncated"
	CodeCorrupt             = "corrupt_compression"
	CodeReadError           = "read_error"
)

// Encodings Open detects.
const (
	Identity = ""
	Gzip     = "gzip"
	Zstd     = "zstd"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Open returns the decompressed stream of body, chosen by contentEncoding
// or, when it is empty, by the body's first bytes; and the encoding it
// chose ("", "gzip" or "zstd"). See the package documentation.
func Open(body io.Reader, contentEncoding string, lim Limits) (io.ReadCloser, string, error) {
	lim = lim.WithDefaults()
	enc, sniff, err := parseEncoding(contentEncoding)
	if err != nil {
		return nil, "", err
	}
	in := &countingReader{r: body, max: lim.MaxCompressedBytes}
	// A small buffer: compressed bytes consumed (for the ratio) are what
	// the counting reader saw minus what is still buffered here.
	br := bufio.NewReaderSize(in, 4<<10)
	magic, err := br.Peek(len(zstdMagic))
	if err != nil && err != io.EOF {
		if f := in.failure(err); f != nil {
			return nil, "", f
		}
		return nil, "", format.Failf(CodeReadError, err, "reading the body failed")
	}
	if sniff {
		switch {
		case bytes.HasPrefix(magic, gzipMagic):
			enc = Gzip
		case bytes.HasPrefix(magic, zstdMagic):
			enc = Zstd
		}
	}
	r := &reader{in: in, br: br, lim: lim, enc: enc}
	switch enc {
	case Identity:
		r.src = br
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, "", r.failure(err)
		}
		zr.Multistream(true)
		r.src, r.close = zr, zr.Close
	case Zstd:
		// The decoder takes a body shorter than a frame's magic number for
		// an empty stream: a declared zstd body must start with a frame.
		switch {
		case len(magic) < len(zstdMagic):
			return nil, "", r.failure(io.ErrUnexpectedEOF)
		case !bytes.Equal(magic, zstdMagic) && !isSkippableMagic(magic):
			return nil, "", format.Failf(CodeCorrupt, nil, "the zstd stream does not start with a frame")
		}
		zd, err := zstd.NewReader(br,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(lim.MaxDecoderMemory),
			zstd.WithDecoderMaxWindow(lim.MaxDecoderMemory),
		)
		if err != nil {
			return nil, "", r.failure(err)
		}
		r.src = zd
		r.close = func() error { zd.Close(); return nil }
	}
	return r, enc, nil
}

// isSkippableMagic reports whether b is the magic number of a zstd
// skippable frame (0x184D2A50 to 0x184D2A5F, little-endian).
func isSkippableMagic(b []byte) bool {
	return len(b) == 4 && b[0]&0xf0 == 0x50 && b[1] == 0x2a && b[2] == 0x4d && b[3] == 0x18
}

// parseEncoding reads a Content-Encoding value: the encoding, or sniff
// when the header is empty.
func parseEncoding(h string) (enc string, sniff bool, err error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return Identity, true, nil
	}
	var found []string
	for _, part := range strings.Split(h, ",") {
		switch p := strings.ToLower(strings.TrimSpace(part)); p {
		case "identity", "":
		case "gzip", "x-gzip":
			found = append(found, Gzip)
		case "zstd":
			found = append(found, Zstd)
		default:
			// The value is a header, not body content, but it is still
			// client input: name its position, not its text.
			return "", false, format.Failf(CodeUnsupportedEncoding, nil, "Content-Encoding names an encoding other than gzip, x-gzip, zstd and identity")
		}
	}
	switch len(found) {
	case 0:
		return Identity, false, nil
	case 1:
		return found[0], false, nil
	}
	return "", false, format.Failf(CodeUnsupportedEncoding, nil, "Content-Encoding names %d encodings; only one is supported", len(found))
}

// countingReader counts and bounds the body bytes read.
type countingReader struct {
	r   io.Reader
	n   int64
	max int64
	err error // the body's own error (not io.EOF), or the limit's
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if room := c.max - c.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		c.err = format.Failf(CodeTooLarge, nil, "the body is larger than %d bytes", c.max)
		return n - int(c.n-c.max), c.err
	}
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// failure returns the error for err when it is the body's own error (a
// Failure as it is, anything else as read_error), and nil otherwise.
func (c *countingReader) failure(err error) error {
	if c.err == nil || !errors.Is(err, c.err) {
		return nil
	}
	if format.IsFailure(c.err) {
		return c.err
	}
	return format.Failf(CodeReadError, c.err, "reading the body failed after %d bytes", c.n)
}

// reader is the decompressed stream.
type reader struct {
	in    *countingReader
	br    *bufio.Reader
	src   io.Reader
	close func() error
	lim   Limits
	enc   string
	out   int64
	err   error
}

func (r *reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if room := r.lim.MaxDecompressedBytes - r.out + 1; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := r.src.Read(p)
	r.out += int64(n)
	if r.out > r.lim.MaxDecompressedBytes {
		r.err = format.Failf(CodeTooLarge, nil, "the decompressed body is larger than %d bytes", r.lim.MaxDecompressedBytes)
		return n - int(r.out-r.lim.MaxDecompressedBytes), r.err
	}
	if r.enc != Identity && r.out > r.lim.RatioMinBytes {
		consumed := max(r.in.n-int64(r.br.Buffered()), 1)
		if r.out/consumed >= r.lim.MaxRatio {
			r.err = format.Failf(CodeBomb, nil, "the %s body expands more than %d times (%d bytes from %d)", r.enc, r.lim.MaxRatio, r.out, consumed)
			return 0, r.err
		}
	}
	if err == io.EOF {
		return n, io.EOF
	}
	if err != nil {
		r.err = r.failure(err)
		return n, r.err
	}
	return n, nil
}

// failure classifies a decoder error.
func (r *reader) failure(err error) error {
	if f := r.in.failure(err); f != nil {
		return f
	}
	var fl *format.Failure
	if errors.As(err, &fl) {
		return fl
	}
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return format.Failf(CodeTruncated, err, "the %s stream ends early (after %d bytes of it, %d decompressed)", r.enc, r.in.n, r.out)
	case errors.Is(err, zstd.ErrWindowSizeExceeded), errors.Is(err, zstd.ErrDecoderSizeExceeded):
		return format.Failf(CodeTooLarge, err, "the zstd stream needs a window larger than %d bytes", r.lim.MaxDecoderMemory)
	case errors.As(err, &corrupt):
		return format.Failf(CodeCorrupt, err, "the %s stream is corrupt at byte %d of it", r.enc, int64(corrupt))
	case errors.Is(err, gzip.ErrChecksum):
		return format.Failf(CodeCorrupt, err, "the %s stream fails its checksum", r.enc)
	case errors.Is(err, gzip.ErrHeader):
		return format.Failf(CodeCorrupt, err, "the %s stream has an invalid header or data after its end (at or before byte %d of it)", r.enc, r.in.n)
	}
	return format.Failf(CodeCorrupt, err, "the %s stream is corrupt (at or before byte %d of it)", r.enc, r.in.n)
}

// Close releases the decoder. It does not close the body.
func (r *reader) Close() error {
	if r.err == nil {
		r.err = format.Failf(CodeReadError, nil, "read after Close")
	}
	if r.close != nil {
		c := r.close
		r.close = nil
		return c()
	}
	return nil
}
