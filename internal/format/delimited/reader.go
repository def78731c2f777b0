package delimited

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/internal/lineio"
)

// Options configure a Reader.
type Options struct {
	// Delimiter separates fields: ',' (the default when zero), '\t' (TSV),
	// ';' or '|'.
	Delimiter rune
	// Header names the columns. When empty, the first record is the header.
	Header []string
	// Limits bound what the input may cost; zero values mean the defaults.
	// MaxRecordBytes, MaxFieldBytes and MaxFields apply.
	Limits format.Limits
	// Comment, when not zero, starts comment lines (where a record would
	// start). It must be an ASCII character other than the delimiter, '"',
	// CR and LF.
	Comment rune
}

// Reject and failure codes.
const (
	CodeRecordTooLong   = "record_too_long"  // Reject
	CodeUnclosedQuote   = "unclosed_quote"   // Reject
	CodeFieldTooLong    = "field_too_long"   // Reject
	CodeBadQuote        = "bad_quote"        // Reject
	CodeRaggedRow       = "ragged_row"       // Reject
	CodeInvalidUTF8     = "invalid_utf8"     // Reject
	CodeDuplicateHeader = "duplicate_header" // Failure
	CodeBadHeader       = "bad_header"       // Failure
	CodeTooManyFields   = "too_many_fields"  // Failure: header wider than MaxFields
	CodeInvalidOptions  = "invalid_options"  // Failure: Options not supported
	CodeReadError       = "read_error"       // Failure: the underlying reader failed
)

// Reject priorities: when several apply, the lowest wins.
const (
	prioRecordTooLong = iota + 1
	prioUnclosedQuote
	prioFieldTooLong
	prioBadQuote
	prioRaggedRow
	prioInvalidUTF8
)

// bom is the UTF-8 byte order mark; newline is LF (both read-only).
var (
	bom     = []byte{0xEF, 0xBB, 0xBF}
	newline = []byte{'\n'}
)

// state is where the state machine is within a record.
type state uint8

const (
	stStart      state = iota // before a record: blank and comment lines are skipped here
	stComment                 // in a comment line
	stFieldStart              // at the start of a field
	stUnquoted                // in an unquoted field
	stQuoted                  // in a quoted field
	stQuoteSeen               // after a quote in a quoted field: "" or the closing quote
	stCR                      // after a CR outside quotes: a line end if LF follows
	stQuoteCR                 // after a CR that follows a closing quote
	stSkip                    // discarding an over-long record up to the next LF
)

// NewReader returns a Reader of the delimited input r. See the package
// documentation. Invalid options make the first Next return an
// invalid_options Failure.
func NewReader(r io.Reader, opts Options) format.Reader {
	lim := opts.Limits.WithDefaults()
	rd := &reader{br: bufio.NewReaderSize(r, 64<<10), lim: lim, line: 1}
	switch opts.Delimiter {
	case 0:
		rd.delim = ','
	case ',', '\t', ';', '|':
		rd.delim = byte(opts.Delimiter)
	default:
		rd.err = format.Failf(CodeInvalidOptions, nil, "delimiter U+%04X is not supported (use ',', tab, ';' or '|')", opts.Delimiter)
		return rd
	}
	if c := opts.Comment; c != 0 {
		if c >= utf8.RuneSelf || c < ' ' && c != '\t' || byte(c) == rd.delim || c == '"' {
			rd.err = format.Failf(CodeInvalidOptions, nil, "comment character U+%04X is not supported", c)
			return rd
		}
		rd.comment = byte(c)
	}
	if len(opts.Header) > 0 {
		rd.header, rd.err = headerNames(opts.Header, lim)
	}
	return rd
}

// headerNames returns the column names: empty names generated, no
// duplicates.
func headerNames(raw []string, lim format.Limits) ([]string, error) {
	if len(raw) > lim.MaxFields {
		return nil, format.Failf(CodeTooManyFields, nil, "the header has more than %d columns", lim.MaxFields)
	}
	names := make([]string, len(raw))
	seen := make(map[string]int, len(raw))
	for i, n := range raw {
		if n == "" {
			n = fmt.Sprintf("column_%d", i+1)
		}
		if j, dup := seen[n]; dup {
			return nil, format.Failf(CodeDuplicateHeader, nil, "columns %d and %d of the header have the same name", j, i+1)
		}
		seen[n] = i + 1
		names[i] = n
	}
	return names, nil
}

type reader struct {
	br      *bufio.Reader
	delim   byte
	comment byte // 0: none
	lim     format.Limits
	header  []string // nil until known
	off     int64    // offset of the next byte
	line    int64    // line of the next byte
	started bool
	err     error // sticky

	// The record being read.
	st         state
	recLine    int64
	recOff     int64
	recBytes   int  // bytes of the record so far, line ending excluded
	nonBlank   bool // the record holds more than a line ending
	buf        []byte
	ends       []int // end in buf of each stored field
	nfields    int   // fields completed (also those not stored)
	maxStored  int   // fields stored at most
	fieldStart int   // start in buf of the current field
	fieldLen   int   // bytes of the current field, stored or not
	fieldLong  bool  // the current field is over the limit
	quoteLine  int64 // line where the last quoted field opened
	rejPrio    int   // 0: no reject
	rejCode    string
	rejField   int    // 1-based field the reject is about
	rejPos     int64  // byte the reject is about
	endLine    int64  // last line of the record
	raw        []byte // the record's first bytes as read, at most MaxRejectRaw+1 (see capture)
	rawLen     int    // bytes of the record read so far, whether in raw or not
}

// Next implements format.Reader.
func (r *reader) Next() (format.Record, error) {
	if r.err != nil {
		return format.Record{}, r.err
	}
	rec, err := r.next()
	if err != nil {
		r.err = err
	}
	return rec, err
}

func (r *reader) next() (format.Record, error) {
	if !r.started {
		r.started = true
		if p, _ := r.br.Peek(len(bom)); bytes.Equal(p, bom) {
			n, _ := r.br.Discard(len(bom))
			r.off += int64(n)
		}
	}
	if r.header == nil {
		if err := r.readHeader(); err != nil {
			return format.Record{}, err
		}
	}
	r.maxStored = len(r.header)
	ok, err := r.readRecord()
	if err != nil {
		return format.Record{}, err
	}
	if !ok {
		return format.Record{}, io.EOF
	}
	rec := format.Record{Line: r.recLine, Offset: r.recOff}
	if r.rejPrio == 0 && r.nfields != len(r.header) {
		r.reject(prioRaggedRow, CodeRaggedRow, 0, 0)
	}
	if r.rejPrio == 0 {
		r.checkUTF8()
	}
	if r.rejPrio != 0 {
		rec.Reject = r.rejectReason()
		if r.rejCode != CodeRecordTooLong { // that one's bytes were not kept
			rec.Raw, rec.RawTruncated = lineio.Raw(r.raw, r.lim.MaxRejectRaw)
		}
		return rec, nil
	}
	// One string for the record; the fields are substrings of it.
	all := string(r.buf)
	rec.Fields = make(map[string]any, len(r.header))
	start := 0
	for i, name := range r.header {
		rec.Fields[name] = all[start:r.ends[i]]
		start = r.ends[i]
	}
	return rec, nil
}

// readHeader reads the first record as the header.
func (r *reader) readHeader() error {
	r.maxStored = r.lim.MaxFields + 1
	ok, err := r.readRecord()
	if err != nil {
		return err
	}
	if !ok {
		return io.EOF
	}
	if r.rejPrio == 0 {
		r.checkUTF8()
	}
	if r.rejPrio != 0 {
		rej := r.rejectReason()
		return format.Failf(CodeBadHeader, rej, "the header row (line %d) cannot be read: %s", r.recLine, rej.Reason)
	}
	if r.nfields > r.lim.MaxFields {
		return format.Failf(CodeTooManyFields, nil, "the header (line %d) has more than %d columns", r.recLine, r.lim.MaxFields)
	}
	raw := make([]string, r.nfields)
	start := 0
	for i := range raw {
		raw[i] = string(r.buf[start:r.ends[i]])
		start = r.ends[i]
	}
	r.header, err = headerNames(raw, r.lim)
	return err
}

func (r *reader) checkUTF8() {
	start := 0
	for i, end := range r.ends {
		if !utf8.Valid(r.buf[start:end]) {
			r.reject(prioInvalidUTF8, CodeInvalidUTF8, i+1, 0)
			return
		}
		start = end
	}
}

// reject records a problem with the current record; the most important
// one is kept.
func (r *reader) reject(prio int, code string, field int, pos int64) {
	if r.rejPrio != 0 && r.rejPrio <= prio {
		return
	}
	r.rejPrio, r.rejCode, r.rejField, r.rejPos = prio, code, field, pos
}

// rejectReason describes the current record's reject, quoting no input.
func (r *reader) rejectReason() *format.Reject {
	switch r.rejCode {
	case CodeRecordTooLong:
		return format.Rejectf(r.rejCode, "record is longer than %d bytes; lines %d to %d were skipped as part of it", r.lim.MaxRecordBytes, r.recLine, r.endLine)
	case CodeUnclosedQuote:
		return format.Rejectf(r.rejCode, "the quoted field that opens on line %d is not closed before the end of the input", r.quoteLine)
	case CodeFieldTooLong:
		return format.Rejectf(r.rejCode, "field %d is longer than %d bytes", r.rejField, r.lim.MaxFieldBytes)
	case CodeBadQuote:
		return format.Rejectf(r.rejCode, "field %d: a closing quote is followed by other characters at byte %d", r.rejField, r.rejPos)
	case CodeRaggedRow:
		return format.Rejectf(r.rejCode, "row has %d fields, the header has %d", r.nfields, len(r.header))
	case CodeInvalidUTF8:
		return format.Rejectf(r.rejCode, "field %d is not valid UTF-8", r.rejField)
	}
	return format.Rejectf(r.rejCode, "record rejected")
}

// readRecord reads the next record into the record state. It returns false
// at the end of the input.
func (r *reader) readRecord() (bool, error) {
	r.st = stStart
	r.recBytes, r.nonBlank = 0, false
	r.buf, r.ends = r.buf[:0], r.ends[:0]
	r.nfields, r.fieldStart, r.fieldLen, r.fieldLong = 0, 0, 0, false
	r.rejPrio, r.rejCode = 0, ""
	r.raw, r.rawLen = r.raw[:0], 0
	for {
		if r.br.Buffered() == 0 {
			if _, err := r.br.Peek(1); err != nil {
				if err == io.EOF {
					return r.atEOF(), nil
				}
				if format.IsFailure(err) {
					return false, err
				}
				return false, format.Failf(CodeReadError, err, "reading the input failed at byte %d", r.off)
			}
		}
		chunk, _ := r.br.Peek(r.br.Buffered())
		n, done := r.scan(chunk)
		_, _ = r.br.Discard(n)
		if done {
			return true, nil
		}
	}
}

// scan runs the state machine over chunk until a record is complete. It
// returns the bytes consumed and whether a record is complete.
func (r *reader) scan(chunk []byte) (int, bool) {
	base := r.off
	n, done := r.run(chunk)
	if r.lim.MaxRejectRaw >= 0 {
		r.capture(chunk[:n], base, done)
	}
	return n, done
}

// capture keeps the first bytes of the current record as read (quotes and
// inner line breaks included, the final line ending not) for Record.Raw:
// consumed are the bytes scan consumed, from offset base, done whether
// they complete the record. It keeps MaxRejectRaw+1 bytes at most, enough
// for lineio.Raw to tell a cut record from one that fits, and copies each
// byte once, a run at a time: an accepted record costs a copy of its first
// bytes into a reused buffer, no allocation.
func (r *reader) capture(consumed []byte, base int64, done bool) {
	if !done && (r.st == stStart || r.st == stComment) || r.st == stSkip || r.rejCode == CodeRecordTooLong {
		return // no record in progress, or one whose bytes are not kept
	}
	// The record started at r.recOff: in this chunk, or before it.
	start := int(max(r.recOff-base, 0))
	end := len(consumed)
	if done {
		end-- // the LF
	}
	b := consumed[start:end]
	r.rawLen += len(b)
	if room := r.lim.MaxRejectRaw + 1 - len(r.raw); room > 0 {
		r.raw = append(r.raw, b[:min(room, len(b))]...)
	}
	if done {
		r.trimCR()
	}
}

// trimCR drops from raw the CR that ends the record as part of its line
// ending (CRLF, or a CR at the end of the input), when raw holds the
// whole record (a CR before the LF that ends a record is always that).
func (r *reader) trimCR() {
	if n := len(r.raw); n == r.rawLen && n > 0 && r.raw[n-1] == '\r' {
		r.raw = r.raw[:n-1]
	}
}

// run is scan without capture.
func (r *reader) run(chunk []byte) (int, bool) {
	delim := r.delim
	for i := 0; i < len(chunk); i++ {
		// Fast paths: runs of plain bytes within the limits (step checks
		// the byte that crosses a limit), and discarded lines.
		switch r.st {
		case stUnquoted:
			end := i + r.room(len(chunk)-i)
			j := i
			for j < end && chunk[j] != delim && chunk[j] != '\n' && chunk[j] != '\r' {
				j++
			}
			if j > i {
				r.appendRun(chunk[i:j])
				if i = j; i == len(chunk) {
					return i, false
				}
			}
		case stQuoted:
			end := i + r.room(len(chunk)-i)
			j := i
			for j < end && chunk[j] != '"' {
				j++
			}
			if j > i {
				r.appendRun(chunk[i:j])
				r.line += int64(bytes.Count(chunk[i:j], newline))
				if i = j; i == len(chunk) {
					return i, false
				}
			}
		case stSkip, stComment:
			j := bytes.IndexByte(chunk[i:], '\n')
			if j < 0 {
				r.off += int64(len(chunk) - i)
				return len(chunk), false
			}
			r.off += int64(j)
			i += j
		}
		c := chunk[i]
		pos := r.off
		r.off++
		if c == '\n' {
			r.line++
		}
		if r.step(c, pos) {
			return i + 1, true
		}
	}
	return len(chunk), false
}

// room returns how many of n more field bytes keep the record and the
// current field within their limits.
func (r *reader) room(n int) int {
	if r.fieldLong {
		return 0
	}
	return min(n, r.lim.MaxRecordBytes-r.recBytes, r.lim.MaxFieldBytes-r.fieldLen)
}

// appendRun adds plain field bytes that fit (see room).
func (r *reader) appendRun(run []byte) {
	r.off += int64(len(run))
	r.recBytes += len(run)
	r.fieldLen += len(run)
	r.nonBlank = true
	if r.nfields < r.maxStored {
		r.buf = append(r.buf, run...)
	}
}

// step runs the state machine on one byte at offset pos (r.off and r.line
// are already past it). It returns true when a record is complete.
func (r *reader) step(c byte, pos int64) bool {
	for {
		switch r.st {
		case stStart:
			switch {
			case c == '\n':
				return false // empty line
			case r.comment != 0 && c == r.comment:
				r.st = stComment
				return false
			}
			r.recOff, r.recLine = pos, r.line
			r.raw, r.rawLen = r.raw[:0], 0 // what an empty line before it left
			r.st = stFieldStart
			continue

		case stComment:
			if c == '\n' {
				r.st = stStart
			}
			return false

		case stFieldStart:
			switch c {
			case '\n':
				r.endField()
				return r.endRecord()
			case '\r':
				r.st = stCR
				return false
			}
			if !r.count() {
				return r.skipped(c)
			}
			r.nonBlank = true
			switch c {
			case '"':
				r.st = stQuoted
				r.quoteLine = r.line
			case r.delim:
				r.endField()
			default:
				r.appendByte(c)
				r.st = stUnquoted
			}
			return false

		case stUnquoted:
			switch c {
			case '\n':
				r.endField()
				return r.endRecord()
			case '\r':
				r.st = stCR
				return false
			}
			if !r.count() {
				return r.skipped(c)
			}
			if c == r.delim {
				r.endField()
				r.st = stFieldStart
			} else {
				r.appendByte(c)
			}
			return false

		case stQuoted:
			if !r.count() {
				return r.skipped(c)
			}
			if c == '"' {
				r.st = stQuoteSeen
			} else {
				r.appendByte(c)
			}
			return false

		case stQuoteSeen:
			switch c {
			case '\n':
				r.endField()
				return r.endRecord()
			case '\r':
				r.st = stQuoteCR
				return false
			}
			if !r.count() {
				return r.skipped(c)
			}
			switch c {
			case '"':
				r.appendByte('"')
				r.st = stQuoted
			case r.delim:
				r.endField()
				r.st = stFieldStart
			default:
				r.reject(prioBadQuote, CodeBadQuote, r.nfields+1, pos)
				r.appendByte(c)
				r.st = stUnquoted
			}
			return false

		case stCR, stQuoteCR:
			if c == '\n' {
				r.endField()
				return r.endRecord()
			}
			// The CR was content.
			if !r.count() {
				return r.skipped(c)
			}
			if r.st == stQuoteCR {
				r.reject(prioBadQuote, CodeBadQuote, r.nfields+1, pos-1)
			}
			r.nonBlank = true
			r.appendByte('\r')
			r.st = stUnquoted
			continue // c itself is still to be handled

		case stSkip:
			if c == '\n' {
				return r.endRecord()
			}
			return false
		}
		return false
	}
}

// count adds one byte to the record; past the record limit it rejects the
// record and switches to skipping (see skipped).
func (r *reader) count() bool {
	r.recBytes++
	if r.recBytes <= r.lim.MaxRecordBytes {
		return true
	}
	r.reject(prioRecordTooLong, CodeRecordTooLong, 0, 0)
	r.nonBlank = true
	r.buf, r.ends = r.buf[:0], r.ends[:0]
	r.st = stSkip
	return false
}

// skipped handles the byte c that crossed the record limit: the record
// ends at the first LF at or after it.
func (r *reader) skipped(c byte) bool {
	if c == '\n' {
		return r.endRecord()
	}
	return false
}

func (r *reader) appendByte(c byte) {
	if r.fieldLong {
		return
	}
	r.fieldLen++
	if r.fieldLen > r.lim.MaxFieldBytes {
		r.fieldLong = true
		r.reject(prioFieldTooLong, CodeFieldTooLong, r.nfields+1, 0)
		r.buf = r.buf[:r.fieldStart] // free the room; the record is rejected
		return
	}
	if r.nfields < r.maxStored {
		r.buf = append(r.buf, c)
	}
}

func (r *reader) endField() {
	if r.nfields < r.maxStored && r.st != stSkip {
		r.ends = append(r.ends, len(r.buf))
	}
	r.nfields++
	r.fieldStart, r.fieldLen, r.fieldLong = len(r.buf), 0, false
}

// endRecord completes the record at a LF (already counted in r.line). A
// record that held nothing but its line ending is an empty line: skipped.
func (r *reader) endRecord() bool {
	if !r.nonBlank {
		r.nfields, r.buf, r.ends = 0, r.buf[:0], r.ends[:0]
		r.fieldStart, r.fieldLen = 0, 0
		r.st = stStart
		return false
	}
	r.endLine = r.line - 1
	return true
}

// atEOF completes the record at the end of the input; false when there is
// none.
func (r *reader) atEOF() bool {
	switch r.st {
	case stStart, stComment:
		return false
	case stCR, stQuoteCR:
		r.trimCR() // the CR ends the last field: not content
		r.endField()
	case stQuoted:
		r.reject(prioUnclosedQuote, CodeUnclosedQuote, r.nfields+1, 0)
		r.endField()
	case stSkip:
	default:
		r.endField()
	}
	r.st = stStart
	if !r.nonBlank {
		return false
	}
	r.endLine = r.line
	return true
}
