package ndjson

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// bom is the UTF-8 byte order mark.
var bom = []byte{0xEF, 0xBB, 0xBF}

// line is one physical line of input with its location.
type line struct {
	Num    int64  // 1-based line number
	Offset int64  // byte offset of the line's first byte
	Data   []byte // content without the line ending; valid until the next call
	// TooLong is set (and Data nil) when the content exceeded the limit; the
	// rest of the line was read and discarded without being buffered.
	TooLong bool
	// Blank is set when the line holds only JSON whitespace (also for a too
	// long line).
	Blank bool
}

// lineReader splits its input into lines at LF, each at most max bytes of
// content, using memory bounded by max whatever the input holds. A UTF-8 BOM
// at the start is skipped (it still counts in offsets).
type lineReader struct {
	br      *bufio.Reader
	max     int
	num     int64
	offset  int64
	buf     []byte
	started bool
}

func newLineReader(r io.Reader, max int) *lineReader {
	size := 64 << 10
	if max+2 < size {
		size = max + 2
	}
	return &lineReader{br: bufio.NewReaderSize(r, size), max: max}
}

// next returns the next line, or io.EOF after the last one, or the
// underlying reader's error.
func (l *lineReader) next() (line, error) {
	if !l.started {
		l.started = true
		if p, _ := l.br.Peek(len(bom)); bytes.Equal(p, bom) {
			n, _ := l.br.Discard(len(bom))
			l.offset += int64(n)
		}
	}
	l.buf = l.buf[:0]
	start := l.offset
	tooLong, blank := false, true
	for {
		chunk, err := l.br.ReadSlice('\n')
		l.offset += int64(len(chunk))
		switch {
		case tooLong:
			blank = blank && isBlank(chunk)
		case len(l.buf)+len(chunk) > l.max+2: // +2: the line ending is not content
			tooLong = true
			blank = isBlank(l.buf) && isBlank(chunk)
			l.buf = l.buf[:0]
		default:
			l.buf = append(l.buf, chunk...)
		}
		switch {
		case err == nil:
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF: // exactly: a wrapped EOF is an error, not the end
			if l.offset == start {
				return line{}, io.EOF
			}
		default:
			return line{}, err
		}
		l.num++
		if tooLong {
			return line{Num: l.num, Offset: start, TooLong: true, Blank: blank}, nil
		}
		data := l.buf
		if n := len(data); n > 0 && data[n-1] == '\n' {
			data = data[:n-1]
			if n := len(data); n > 0 && data[n-1] == '\r' {
				data = data[:n-1]
			}
		}
		if len(data) > l.max {
			return line{Num: l.num, Offset: start, TooLong: true, Blank: isBlank(data)}, nil
		}
		return line{Num: l.num, Offset: start, Data: data, Blank: isBlank(data)}, nil
	}
}

// isBlank reports whether b holds only JSON whitespace.
func isBlank(b []byte) bool {
	for _, c := range b {
		if !isSpace(c) {
			return false
		}
	}
	return true
}
