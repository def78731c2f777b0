package ndjson

import (
	"bufio"
	"bytes"
	"io"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/internal/lineio"
)

// bom is the UTF-8 byte order mark.
var bom = []byte{0xEF, 0xBB, 0xBF}

// NewArrayReader returns a Reader of a JSON array of objects: one record per
// element, located at the element's first byte, each parsed by ParseObject.
// It holds at most one element (bounded by lim.MaxRecordBytes) in memory. A
// syntax error anywhere is a whole-input Failure returned after the records
// already yielded: see the package documentation.
func NewArrayReader(r io.Reader, lim format.Limits) format.Reader {
	lim = lim.WithDefaults()
	return &arrayReader{br: bufio.NewReaderSize(r, 64<<10), lim: lim, line: 1, cache: newCache()}
}

// arrayState is where the array reader is in the array's structure.
type arrayState int

const (
	arrBegin   arrayState = iota // before '['
	arrFirst                     // after '[': an element or ']'
	arrElement                   // after ',': an element
	arrAfter                     // after an element: ',' or ']'
	arrEnd                       // after ']': only whitespace may follow
)

type arrayReader struct {
	br    *bufio.Reader
	lim   format.Limits
	off   int64 // offset of the next byte
	line  int64 // line of the next byte
	state arrayState
	buf   []byte
	cache cache
	err   error
}

// Next implements format.Reader.
func (a *arrayReader) Next() (format.Record, error) {
	if a.err != nil {
		return format.Record{}, a.err
	}
	rec, err := a.next()
	if err != nil {
		a.err = err
	}
	return rec, err
}

func (a *arrayReader) next() (format.Record, error) {
	if a.state == arrBegin && a.off == 0 {
		if p, _ := a.br.Peek(len(bom)); bytes.Equal(p, bom) {
			n, _ := a.br.Discard(len(bom))
			a.off += int64(n)
		}
	}
	for {
		c, err := a.peekNonSpace()
		if err == io.EOF {
			if a.state == arrBegin || a.state == arrEnd {
				return format.Record{}, io.EOF
			}
			return format.Record{}, format.Failf(CodeTruncated, nil, "input ends inside the JSON array at byte %d", a.off)
		}
		if err != nil {
			return format.Record{}, readFailure(err, a.off)
		}
		switch a.state {
		case arrBegin:
			if c != '[' {
				return format.Record{}, format.Failf(CodeNotAnArray, nil, "input is not a JSON array: byte %d is not '['", a.off)
			}
			a.consume()
			a.state = arrFirst
		case arrFirst:
			if c == ']' {
				a.consume()
				a.state = arrEnd
				continue
			}
			return a.element()
		case arrElement:
			return a.element()
		case arrAfter:
			switch c {
			case ',':
				a.consume()
				a.state = arrElement
			case ']':
				a.consume()
				a.state = arrEnd
			default:
				return format.Record{}, format.Failf(CodeInvalidJSON, nil, "syntax error at byte %d (line %d): expected ',' or ']' after an array element", a.off, a.line)
			}
		case arrEnd:
			return format.Record{}, format.Failf(CodeInvalidJSON, nil, "data after the JSON array at byte %d (line %d)", a.off, a.line)
		}
	}
}

// element reads the element that starts at the next byte.
func (a *arrayReader) element() (format.Record, error) {
	rec := format.Record{Line: a.line, Offset: a.off}
	a.buf = a.buf[:0]
	max := a.lim.MaxRecordBytes
	tooLong := false
	first, _ := a.peekByte()
	switch first {
	case '{', '[', '"':
		// Find the end by tracking strings and bracket depth (a counter:
		// deep nesting costs nothing here; ParseObject limits it), a
		// buffered chunk at a time.
		var sc elementScanner
		for {
			chunk, err := a.chunk()
			if err != nil {
				if err == io.EOF {
					return format.Record{}, format.Failf(CodeTruncated, nil, "input ends inside the JSON array element that starts at byte %d (line %d)", rec.Offset, rec.Line)
				}
				return format.Record{}, readFailure(err, a.off)
			}
			n, done := sc.scan(chunk)
			if !tooLong {
				if len(a.buf)+n > max {
					tooLong = true
					a.buf = a.buf[:0]
				} else {
					a.buf = append(a.buf, chunk[:n]...)
				}
			}
			a.line += int64(bytes.Count(chunk[:n], newline))
			a.off += int64(n)
			_, _ = a.br.Discard(n)
			if done {
				break
			}
		}
	default:
		// A literal (number, true, false, null) or garbage.
		n := 0
		for {
			c, err := a.peekByte()
			if err == io.EOF {
				break
			}
			if err != nil {
				return format.Record{}, readFailure(err, a.off)
			}
			if !isLiteralByte(c) {
				break
			}
			a.consume()
			n++
			if !tooLong {
				if len(a.buf) >= max {
					tooLong = true
					a.buf = a.buf[:0]
				} else {
					a.buf = append(a.buf, c)
				}
			}
		}
		if n == 0 {
			return format.Record{}, format.Failf(CodeInvalidJSON, nil, "syntax error at byte %d (line %d): expected an array element", a.off, a.line)
		}
	}
	a.state = arrAfter
	if tooLong {
		rec.Reject = format.Rejectf(CodeRecordTooLong, "array element is longer than %d bytes", max)
		return rec, nil
	}
	m, rej, pos := a.cache.parseObject(a.buf, a.lim)
	if rej != nil && rej.Code == CodeInvalidJSON {
		// The array's structure can no longer be trusted.
		return format.Record{}, format.Failf(CodeInvalidJSON, nil, "syntax error in the array element that starts at byte %d (line %d), at byte %d of the input", rec.Offset, rec.Line, rec.Offset+int64(max0(pos)))
	}
	rec.Fields, rec.Reject = m, rej
	if rej != nil {
		// The element's bytes, line breaks included; a.buf is reused.
		rec.Raw, rec.RawTruncated = lineio.Raw(a.buf, a.lim.MaxRejectRaw)
	}
	return rec, nil
}

var newline = []byte{'\n'}

// elementScanner finds the end of a string, object or array element.
type elementScanner struct {
	depth      int
	inStr, esc bool
}

// scan consumes chunk up to the element's end; it returns how many bytes
// belong to the element and whether it ended.
func (s *elementScanner) scan(chunk []byte) (int, bool) {
	for i, c := range chunk {
		if s.inStr {
			switch {
			case s.esc:
				s.esc = false
			case c == '\\':
				s.esc = true
			case c == '"':
				s.inStr = false
				if s.depth == 0 {
					return i + 1, true
				}
			}
			continue
		}
		switch c {
		case '"':
			s.inStr = true
		case '{', '[':
			s.depth++
		case '}', ']':
			s.depth--
			if s.depth == 0 {
				return i + 1, true
			}
		}
	}
	return len(chunk), false
}

// chunk returns the buffered input (at least one byte), unread.
func (a *arrayReader) chunk() ([]byte, error) {
	if a.br.Buffered() == 0 {
		if _, err := a.br.Peek(1); err != nil {
			return nil, err
		}
	}
	return a.br.Peek(a.br.Buffered())
}

func max0(i int) int {
	if i < 0 {
		return 0
	}
	return i
}

// isLiteralByte reports whether c may appear in a JSON number or literal.
func isLiteralByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'
}

func (a *arrayReader) readByte() (byte, error) {
	c, err := a.br.ReadByte()
	if err != nil {
		return 0, err
	}
	a.off++
	if c == '\n' {
		a.line++
	}
	return c, nil
}

func (a *arrayReader) peekByte() (byte, error) {
	p, err := a.br.Peek(1)
	if len(p) == 0 {
		return 0, err
	}
	return p[0], nil
}

// consume reads the byte peekByte returned.
func (a *arrayReader) consume() { _, _ = a.readByte() }

// peekNonSpace skips JSON whitespace and returns the next byte unread.
func (a *arrayReader) peekNonSpace() (byte, error) {
	for {
		c, err := a.peekByte()
		if err != nil {
			return 0, err
		}
		if !isSpace(c) {
			return c, nil
		}
		a.consume()
	}
}
