package linerec

import (
	"io"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/internal/lineio"
)

// ParseFunc turns the content of line number n (not blank, not skipped,
// within the limit, valid only during the call) into a record's Fields
// and Meta, or into a Reject, which it words itself.
type ParseFunc func(n int64, data []byte) (fields map[string]any, meta map[string]string, rej *format.Reject)

type reader struct {
	lr    *lineio.Reader
	max   int
	raw   int // Limits.MaxRejectRaw
	skip  func([]byte) bool
	parse ParseFunc
	err   error
}

// NewReader returns a reader of the lines of r, at most
// lim.WithDefaults().MaxLineBytes bytes long, that skips blank lines and
// those skip (if not nil) reports true for, and makes a record of each
// other line with parse. See the package documentation.
func NewReader(r io.Reader, lim format.Limits, skip func(line []byte) bool, parse ParseFunc) format.Reader {
	lim = lim.WithDefaults()
	return &reader{lr: lineio.New(r, lim.MaxLineBytes), max: lim.MaxLineBytes, raw: lim.MaxRejectRaw, skip: skip, parse: parse}
}

func (l *reader) Next() (format.Record, error) {
	if l.err != nil {
		return format.Record{}, l.err
	}
	for {
		ln, err := l.lr.Next()
		if err != nil {
			l.err = err
			return format.Record{}, err
		}
		rec := format.Record{Line: ln.Number, Offset: ln.Offset}
		if ln.TooLong {
			rec.Reject = format.Rejectf("line_too_long", "line %d is longer than %d bytes", ln.Number, l.max)
			return rec, nil
		}
		if ln.Blank || (l.skip != nil && l.skip(ln.Data)) {
			continue // blank or skipped line: documented as skipped
		}
		fields, meta, rej := l.parse(ln.Number, ln.Data)
		if rej != nil {
			rec.Reject = rej
			rec.Raw, rec.RawTruncated = lineio.Raw(ln.Data, l.raw)
			return rec, nil
		}
		rec.Fields, rec.Meta = fields, meta
		return rec, nil
	}
}
