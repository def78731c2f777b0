package lineio

import (
	"bufio"
	"errors"
	"io"
	"math"

	"github.com/heimdallhub/heimdall/internal/format"
)

// bom is the UTF-8 byte order mark.
const bom = "\xef\xbb\xbf"

// Line is one physical line of input.
type Line struct {
	Number int64 // 1-based line number
	Offset int64 // byte offset of the line's first byte
	// Data is the content, without the line ending (and, on line 1,
	// without a byte order mark). It is nil exactly when TooLong, and
	// valid only until the next call to Next.
	Data []byte
	// TooLong is set when the content is longer than the limit; its bytes
	// were read and discarded.
	TooLong bool
	// Blank is set when every byte of the content is in the Reader's
	// Space set, an empty line included. It is computed for a TooLong
	// line too, from the discarded bytes.
	Blank bool
}

// Reader splits an input into Lines. Set its exported fields, if at all,
// before the first call to Next.
type Reader struct {
	// Space lists the bytes a Blank line may hold. New sets it to " \t".
	Space string
	// BOMBeforeFirstLine places a leading byte order mark before line 1,
	// which then starts at offset 3, after it. By default the mark belongs
	// to line 1, which starts at offset 0. The mark is never in Data.
	BOMBeforeFirstLine bool

	br    *bufio.Reader
	max   int
	num   int64 // lines returned so far
	off   int64 // bytes consumed by them
	buf   []byte
	space *[256]bool // the Space set, built by the first Next
	err   error
}

// New returns a Reader of r whose lines hold at most max bytes of content
// (a negative max counts as 0).
func New(r io.Reader, max int) *Reader {
	if max < 0 {
		max = 0
	}
	if max > math.MaxInt-2 {
		max = math.MaxInt - 2
	}
	return &Reader{
		Space: " \t",
		br:    bufio.NewReaderSize(r, min(max+2, 64<<10)),
		max:   max,
	}
}

// Next returns the next line; io.EOF after the last one, once the input
// returned io.EOF itself; or, when reading fails, the input's own
// *format.Failure or a read_error Failure wrapping its error.
func (r *Reader) Next() (Line, error) {
	if r.err != nil {
		return Line{}, r.err
	}
	if r.space == nil {
		r.space = new([256]bool)
		for i := 0; i < len(r.Space); i++ {
			r.space[r.Space[i]] = true
		}
	}
	var (
		total   int64 // bytes of the line read so far, ending and mark included
		skip    int64 // bytes of a byte order mark in front of line 1
		data    []byte
		tooLong bool
		blank   = true // so far, for a TooLong line
		cr      bool   // a TooLong line's bytes so far end in a '\r' not yet scanned
	)
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		first := total == 0
		total += int64(len(chunk))
		if first && r.num == 0 && len(chunk) >= len(bom) && string(chunk[:len(bom)]) == bom {
			chunk, skip = chunk[len(bom):], int64(len(bom))
		}
		if first && err == nil {
			// The whole line is in the bufio.Reader's buffer: no copy.
			data = chunk
			break
		}
		switch {
		case tooLong:
			blank = blank && r.scan(chunk, &cr)
		case len(r.buf)+len(chunk) > r.max+2: // +2: the line ending is not content
			tooLong = true
			blank = r.scan(r.buf, &cr) && r.scan(chunk, &cr)
			r.buf = r.buf[:0]
		default:
			r.keep(chunk)
		}
		if err == nil {
			data = r.buf
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF { // exactly: a wrapped EOF is an error, not the end
			if total == 0 {
				r.err = io.EOF
				return Line{}, io.EOF
			}
			data = r.buf
			break
		}
		var f *format.Failure
		if errors.As(err, &f) {
			r.err = err
		} else {
			r.err = format.Failf("read_error", err, "reading the input failed at byte %d, after line %d", r.off+total, r.num)
		}
		return Line{}, r.err
	}
	r.num++
	ln := Line{Number: r.num, Offset: r.off}
	if r.BOMBeforeFirstLine {
		ln.Offset += skip
	}
	r.off += total
	if tooLong {
		// A '\r' still held back was not followed by '\n': it is content.
		ln.TooLong, ln.Blank = true, blank && (!cr || r.space['\r'])
		return ln, nil
	}
	if n := len(data); n > 0 && data[n-1] == '\n' {
		data = data[:n-1]
		if n := len(data); n > 0 && data[n-1] == '\r' {
			data = data[:n-1]
		}
	}
	ln.Blank = r.blank(data)
	if data == nil {
		data = []byte{} // a byte order mark alone at the end: Data is nil only when TooLong
	}
	if len(data) > r.max {
		ln.TooLong = true
	} else {
		ln.Data = data
	}
	return ln, nil
}

// keep appends chunk to the line buffer, whose capacity never exceeds
// max+2 (the caller checks the length does not).
func (r *Reader) keep(chunk []byte) {
	if need := len(r.buf) + len(chunk); need > cap(r.buf) {
		b := make([]byte, len(r.buf), min(max(2*cap(r.buf), need, 512), r.max+2))
		copy(b, r.buf)
		r.buf = b
	}
	r.buf = append(r.buf, chunk...)
}

// blank reports whether every byte of b is in the Space set.
func (r *Reader) blank(b []byte) bool {
	for _, c := range b {
		if !r.space[c] {
			return false
		}
	}
	return true
}

// scan reports whether the next bytes b of a TooLong line are blank as far
// as they are content. Only the last chunk of a line ends in '\n'; that
// '\n' and a '\r' before it are the line ending, so a '\r' that ends an
// earlier chunk is held back in *cr until the next chunk shows what it is.
func (r *Reader) scan(b []byte, cr *bool) bool {
	end := len(b) > 0 && b[len(b)-1] == '\n'
	if end {
		b = b[:len(b)-1]
	}
	if *cr {
		*cr = false
		if !(end && len(b) == 0) && !r.space['\r'] {
			return false // the '\r' held back was content
		}
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
		*cr = !end
	}
	return r.blank(b)
}
