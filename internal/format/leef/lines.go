package leef

// This file is shared verbatim (apart from the package clause) by the zeek,
// eve, cef and leef packages; keep the copies in step.

import (
	"bufio"
	"errors"
	"io"

	"github.com/heimdallhub/heimdall/internal/format"
)

// line is one physical input line.
type line struct {
	b       []byte // content without the terminating "\n" or "\r\n"; valid until the next call
	num     int64  // 1-based line number
	off     int64  // byte offset of the line's first byte
	tooLong bool   // longer than the limit: b is nil, the bytes were discarded
}

// lineReader splits an input into lines with bounded memory: a line longer
// than max bytes is read through and discarded, never buffered whole.
type lineReader struct {
	br  *bufio.Reader
	max int
	num int64
	off int64
	buf []byte
	err error
}

func newLineReader(r io.Reader, max int) *lineReader {
	size := 64 << 10
	if max+2 < size {
		size = max + 2
	}
	if size < 16 {
		size = 16
	}
	return &lineReader{br: bufio.NewReaderSize(r, size), max: max}
}

// next returns the next line, io.EOF after the last one, or a
// *format.Failure when reading fails.
func (lr *lineReader) next() (line, error) {
	if lr.err != nil {
		return line{}, lr.err
	}
	var (
		total   int64
		tooLong bool
		content []byte
	)
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.br.ReadSlice('\n')
		total += int64(len(chunk))
		if err == nil && total == int64(len(chunk)) {
			// The whole line is in the reader's buffer: no copy.
			content = chunk
			break
		}
		if !tooLong {
			lr.buf = append(lr.buf, chunk...)
			if len(lr.buf) > lr.max+2 {
				tooLong = true
				lr.buf = lr.buf[:0]
			}
		}
		if err == nil {
			content = lr.buf
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			if total == 0 {
				lr.err = io.EOF
				return line{}, io.EOF
			}
			content = lr.buf
			break
		}
		var f *format.Failure
		if errors.As(err, &f) {
			lr.err = err
		} else {
			lr.err = format.Failf("read_error", err, "reading the input failed after line %d", lr.num)
		}
		return line{}, lr.err
	}
	lr.num++
	ln := line{num: lr.num, off: lr.off}
	lr.off += total
	if !tooLong {
		n := len(content)
		if n > 0 && content[n-1] == '\n' {
			n--
			if n > 0 && content[n-1] == '\r' {
				n--
			}
		}
		content = content[:n]
		if ln.num == 1 && len(content) >= 3 && content[0] == 0xEF && content[1] == 0xBB && content[2] == 0xBF {
			content = content[3:] // UTF-8 byte order mark
		}
		if len(content) > lr.max {
			tooLong = true
		} else {
			ln.b = content
		}
	}
	ln.tooLong = tooLong
	return ln, nil
}

// isBlank reports whether b holds only spaces and tabs.
func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}
