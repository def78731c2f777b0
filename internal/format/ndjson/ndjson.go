package ndjson

import (
	"io"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/internal/lineio"
)

// Reject and failure codes of the readers, besides those of ParseObject.
const (
	CodeLineTooLong   = "line_too_long"   // Reject: NDJSON line over MaxLineBytes
	CodeRecordTooLong = "record_too_long" // Reject: array element over MaxRecordBytes
	CodeNotAnArray    = "not_an_array"    // Failure: NewArrayReader input is not an array
	CodeTruncated     = "truncated"       // Failure: input ends inside the array
	CodeReadError     = "read_error"      // Failure: the underlying reader failed
)

// NewReader returns a Reader of the NDJSON input r: one record per non-blank
// line, each line parsed by ParseObject. See the package documentation.
func NewReader(r io.Reader, lim format.Limits) format.Reader {
	lim = lim.WithDefaults()
	lines := lineio.New(r, lim.MaxLineBytes)
	lines.Space = " \t\r"           // JSON whitespace (a line holds no LF)
	lines.BOMBeforeFirstLine = true // a record starts at its first JSON byte
	return &reader{lines: lines, lim: lim, cache: newCache()}
}

type reader struct {
	lines *lineio.Reader
	lim   format.Limits
	cache cache
	err   error
}

// Next implements format.Reader.
func (r *reader) Next() (format.Record, error) {
	if r.err != nil {
		return format.Record{}, r.err
	}
	for {
		ln, err := r.lines.Next() // io.EOF, or a Failure: as they are
		if err != nil {
			r.err = err
			return format.Record{}, r.err
		}
		if ln.Blank {
			continue // also when too long
		}
		rec := format.Record{Line: ln.Number, Offset: ln.Offset}
		if ln.TooLong {
			rec.Reject = format.Rejectf(CodeLineTooLong, "line is longer than %d bytes", r.lim.MaxLineBytes)
			return rec, nil
		}
		rec.Fields, rec.Reject, _ = r.cache.parseObject(ln.Data, r.lim)
		if rec.Reject != nil {
			rec.Raw, rec.RawTruncated = lineio.Raw(ln.Data, r.lim.MaxRejectRaw)
		}
		return rec, nil
	}
}

// readFailure turns an error of the underlying reader into the error Next
// returns: io.EOF and *format.Failure as they are, anything else wrapped.
func readFailure(err error, offset int64) error {
	if err == io.EOF || format.IsFailure(err) {
		return err
	}
	return format.Failf(CodeReadError, err, "reading the input failed at byte %d", offset)
}
