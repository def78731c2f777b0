package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// rawRecord is one line of input with its location.
type rawRecord struct {
	Line   int64 // 1-based
	Offset int64 // byte offset of the line's first byte
	Data   []byte
	// TooLong is set (and Data empty) when the line exceeded the limit; the
	// rest of the line was discarded without buffering it.
	TooLong bool
}

// lineReader yields the non-blank lines of r, each at most max bytes, using
// memory bounded by max whatever the input holds.
type lineReader struct {
	br     *bufio.Reader
	max    int
	line   int64
	offset int64
	buf    []byte
}

func newLineReader(r io.Reader, max int) *lineReader {
	size := 64 << 10
	if max < size {
		size = max + 2
	}
	return &lineReader{br: bufio.NewReaderSize(r, size), max: max}
}

// Next returns the next non-blank line, or io.EOF.
func (l *lineReader) Next() (rawRecord, error) {
	for {
		rec, err := l.next()
		if err != nil {
			return rec, err
		}
		if rec.TooLong || len(bytes.TrimSpace(rec.Data)) > 0 {
			return rec, nil
		}
	}
}

func (l *lineReader) next() (rawRecord, error) {
	l.buf = l.buf[:0]
	start := l.offset
	tooLong := false
	for {
		chunk, err := l.br.ReadSlice('\n')
		l.offset += int64(len(chunk))
		if !tooLong {
			if len(l.buf)+len(chunk) > l.max+2 { // +2: the line ending is not content
				tooLong = true
				l.buf = l.buf[:0]
			} else {
				l.buf = append(l.buf, chunk...)
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(chunk) == 0 && len(l.buf) == 0 && !tooLong && l.offset == start {
				return rawRecord{}, io.EOF
			}
		default:
			return rawRecord{}, err
		}
		l.line++
		data := bytes.TrimRight(l.buf, "\r\n")
		if !tooLong && len(data) > l.max {
			tooLong = true
		}
		if tooLong {
			return rawRecord{Line: l.line, Offset: start, TooLong: true}, nil
		}
		return rawRecord{Line: l.line, Offset: start, Data: data}, nil
	}
}

// parseObject decodes one NDJSON line: exactly one JSON object, numbers kept
// as json.Number so no precision is lost.
func parseObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not valid JSON: %s", jsonReason(err))
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value on the line")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON object")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("line is JSON but not an object")
	}
	return m, nil
}

// jsonReason describes a decoding error without quoting input.
func jsonReason(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of input"
	}
	return "malformed"
}
