package zeek

import (
	"io"
	"strings"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/internal/lineio"
)

// Option adjusts a Zeek reader.
type Option func(*options)

type options struct {
	path string
}

// Path forces the log path reported in Meta["zeek.path"] (for example
// "conn"), overriding #path (TSV), "_path" and the field-set guess (JSON).
func Path(p string) Option { return func(o *options) { o.path = p } }

// MetaPath is the Meta key naming the Zeek log path (conn, dns, http, ...).
const MetaPath = "zeek.path"

const (
	defaultSeparator    = "\t"
	defaultSetSeparator = ","
	defaultEmpty        = "(empty)"
	defaultUnset        = "-"
)

// tsvReader reads Zeek's ASCII (tab-separated) logs.
type tsvReader struct {
	lr  *lineio.Reader
	lim format.Limits
	opt options

	sep, setSep, empty, unset string
	path                      string
	fields                    []string
	types                     []ztype
	checked                   bool // fields/types validated since the last header line
	inData                    bool // a data row was read since the last header line

	err error
}

// NewReader reads a Zeek TSV log (the ASCII writer's format) from r. See the
// package documentation for the conversions.
func NewReader(r io.Reader, lim format.Limits, opts ...Option) format.Reader {
	lim = lim.WithDefaults()
	t := &tsvReader{lr: lineio.New(r, lim.MaxLineBytes), lim: lim}
	for _, o := range opts {
		o(&t.opt)
	}
	t.reset()
	return t
}

func (t *tsvReader) reset() {
	t.sep, t.setSep, t.empty, t.unset = defaultSeparator, defaultSetSeparator, defaultEmpty, defaultUnset
	t.path = ""
	t.fields, t.types = nil, nil
	t.checked, t.inData = false, false
}

func (t *tsvReader) meta() map[string]string {
	p := t.path
	if t.opt.path != "" {
		p = t.opt.path
	}
	if p == "" {
		return nil
	}
	return map[string]string{MetaPath: p}
}

func (t *tsvReader) Next() (format.Record, error) {
	if t.err != nil {
		return format.Record{}, t.err
	}
	for {
		ln, err := t.lr.Next()
		if err != nil {
			t.err = err
			return format.Record{}, err
		}
		if ln.TooLong {
			return format.Record{Line: ln.Number, Offset: ln.Offset, Meta: t.meta(),
				Reject: format.Rejectf("line_too_long", "line %d is longer than %d bytes", ln.Number, t.lim.MaxLineBytes)}, nil
		}
		if len(ln.Data) == 0 {
			continue // empty line: documented as skipped
		}
		if ln.Data[0] == '#' {
			if err := t.header(ln); err != nil {
				t.err = err
				return format.Record{}, err
			}
			continue
		}
		if t.fields == nil {
			t.err = format.Failf("missing_header", nil, "line %d holds data before any #fields header", ln.Number)
			return format.Record{}, t.err
		}
		if !t.checked {
			if err := t.check(ln.Number); err != nil {
				t.err = err
				return format.Record{}, err
			}
		}
		t.inData = true
		return t.row(ln), nil
	}
}

// header handles a line starting with '#'. Known directives update the
// section state; anything else (the btest banner, #open, #close, other
// comments) is a comment.
func (t *tsvReader) header(ln lineio.Line) error {
	s := string(ln.Data)
	if t.inData && isDirective(s, t.sep) {
		// A header line after data starts a new log section.
		t.reset()
	}
	if rest, ok := strings.CutPrefix(s, "#separator"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
		sep := unescapeHeader(rest)
		if sep == "" {
			return format.Failf("invalid_header", nil, "line %d: #separator is empty", ln.Number)
		}
		t.sep = sep
		t.checked = false
		return nil
	}
	name, rest, ok := strings.Cut(s, t.sep)
	if !ok {
		name = s
	}
	switch name {
	case "#set_separator":
		if rest == "" {
			return format.Failf("invalid_header", nil, "line %d: #set_separator is empty", ln.Number)
		}
		t.setSep = rest
	case "#empty_field":
		t.empty = rest
	case "#unset_field":
		t.unset = rest
	case "#path":
		t.path = rest
	case "#fields":
		if rest == "" {
			return format.Failf("invalid_header", nil, "line %d: #fields names no field", ln.Number)
		}
		f := strings.Split(rest, t.sep)
		if len(f) > t.lim.MaxFields {
			return format.Failf("invalid_header", nil, "line %d: #fields names %d fields, more than the limit of %d", ln.Number, len(f), t.lim.MaxFields)
		}
		seen := make(map[string]struct{}, len(f))
		for i, n := range f {
			if n == "" {
				return format.Failf("invalid_header", nil, "line %d: #fields entry %d is empty", ln.Number, i+1)
			}
			if !utf8.ValidString(n) {
				return format.Failf("invalid_header", nil, "line %d: #fields entry %d is not UTF-8", ln.Number, i+1)
			}
			if _, dup := seen[n]; dup {
				return format.Failf("invalid_header", nil, "line %d: #fields names field %q twice", ln.Number, clip(n))
			}
			seen[n] = struct{}{}
		}
		t.fields = f
		t.checked = false
	case "#types":
		f := strings.Split(rest, t.sep)
		if len(f) > t.lim.MaxFields {
			return format.Failf("invalid_header", nil, "line %d: #types names %d types, more than the limit of %d", ln.Number, len(f), t.lim.MaxFields)
		}
		t.types = make([]ztype, len(f))
		for i, ty := range f {
			t.types[i] = parseType(ty)
		}
		t.checked = false
	case "#close":
		// End of a section: data after it needs a new header.
		t.reset()
	}
	return nil
}

// isDirective reports whether a '#' line is a header directive other than
// #close: its first word (up to a space, tab or the separator) is one of
// Zeek's.
func isDirective(s, sep string) bool {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, sep); i >= 0 {
		s = s[:i]
	}
	switch s {
	case "#separator", "#set_separator", "#empty_field", "#unset_field", "#path", "#open", "#fields", "#types":
		return true
	}
	return false
}

// check validates the header of a section before its first row.
func (t *tsvReader) check(num int64) error {
	if t.types != nil && len(t.types) != len(t.fields) {
		return format.Failf("invalid_header", nil, "before line %d: #types has %d entries but #fields has %d", num, len(t.types), len(t.fields))
	}
	t.checked = true
	return nil
}

// row converts one data line; a rejected one keeps its bytes.
func (t *tsvReader) row(ln lineio.Line) format.Record {
	rec := t.convertRow(ln)
	if rec.Reject != nil {
		rec.Raw, rec.RawTruncated = lineio.Raw(ln.Data, t.lim.MaxRejectRaw)
	}
	return rec
}

// convertRow converts one data line into Fields or a Reject.
func (t *tsvReader) convertRow(ln lineio.Line) format.Record {
	rec := format.Record{Line: ln.Number, Offset: ln.Offset, Meta: t.meta()}
	// One string for the whole line: field values are substrings of it.
	s := string(ln.Data)
	n := strings.Count(s, t.sep) + 1
	if n != len(t.fields) {
		rec.Reject = format.Rejectf("ragged_row", "line %d has %d fields, #fields declares %d", ln.Number, n, len(t.fields))
		return rec
	}
	out := make(map[string]any, n)
	for i := 0; i < n; i++ {
		var v string
		if i == n-1 {
			v = s
		} else {
			j := strings.Index(s, t.sep)
			v, s = s[:j], s[j+len(t.sep):]
		}
		name := t.fields[i]
		if len(v) > t.lim.MaxFieldBytes {
			rec.Reject = format.Rejectf("field_too_long", "line %d: field %q is longer than %d bytes", ln.Number, clip(name), t.lim.MaxFieldBytes)
			return rec
		}
		ty := ztype{base: kString}
		if t.types != nil {
			ty = t.types[i]
		}
		if v == t.unset {
			continue // unset: field absent
		}
		val, ok := t.convert(ty, v)
		if !ok {
			rec.Reject = format.Rejectf("invalid_value", "line %d: field %q is not a valid %s", ln.Number, clip(name), clip(typeName(ty)))
			return rec
		}
		out[name] = val
	}
	rec.Fields = out
	return rec
}

func typeName(ty ztype) string {
	if ty.name == "" {
		return "string"
	}
	return ty.name
}

func (t *tsvReader) convert(ty ztype, v string) (any, bool) {
	if ty.container {
		if v == t.empty || v == "" {
			return []any{}, true
		}
		parts := strings.Split(v, t.setSep)
		out := make([]any, len(parts))
		for i, p := range parts {
			if p == t.unset {
				out[i] = nil
				continue
			}
			e, ok := convertScalar(ty.base, p)
			if !ok {
				return nil, false
			}
			out[i] = e
		}
		return out, true
	}
	if v == t.empty {
		if ty.base == kString {
			return "", true
		}
		return nil, false
	}
	return convertScalar(ty.base, v)
}

// clip shortens a field or type name for a reason.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
