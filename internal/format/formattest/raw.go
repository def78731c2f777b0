package formattest

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/heimdallhub/heimdall/internal/format"
)

// CheckRaw checks the Raw bytes of rec, read under the limits lim, are
// sized as documented: an accepted record, a record over the size limits
// (line_too_long, record_too_long, whose bytes are not kept) and any
// record when lim.MaxRejectRaw is negative have none; any other rejected
// record has Raw, at most MaxRejectRaw bytes, exactly that many when
// RawTruncated. Where the bytes come from is up to the caller (CheckReader
// checks it for the line readers).
func CheckRaw(t testing.TB, lim format.Limits, rec format.Record) {
	t.Helper()
	max := lim.WithDefaults().MaxRejectRaw
	kept := rec.Reject != nil && max >= 0 && rec.Reject.Code != "line_too_long" && rec.Reject.Code != "record_too_long"
	switch {
	case !kept && (rec.Raw != nil || rec.RawTruncated):
		t.Fatalf("line %d: Raw of %d bytes (truncated %v) on a record that keeps none (reject %v, MaxRejectRaw %d)", rec.Line, len(rec.Raw), rec.RawTruncated, rec.Reject, max)
	case kept && rec.Raw == nil:
		t.Fatalf("line %d: rejected record (%v) without Raw", rec.Line, rec.Reject)
	case kept && (len(rec.Raw) > max || rec.RawTruncated && len(rec.Raw) != max):
		t.Fatalf("line %d: Raw of %d bytes (truncated %v), MaxRejectRaw %d", rec.Line, len(rec.Raw), rec.RawTruncated, max)
	}
}

// RawInput describes, to CheckRejectRaw, lines a reader accepts and
// rejects.
type RawInput struct {
	// Header is what the input must start with (a Zeek header, a CSV
	// header row), lines ending in LF, yielding no record; may be empty.
	Header string
	// Good is a line (without line ending) the reader accepts.
	Good string
	// Bad is a line (without line ending) the reader rejects, not for its
	// size, and still rejects with any number of spaces appended.
	Bad string
}

// CheckRejectRaw checks, on inputs made of in's lines, that newReader's
// rejected records carry their bytes in Raw as format.Record documents:
// the line without its line ending (LF, CRLF, none at the end of the
// input; a leading byte order mark not included), cut to
// Limits.MaxRejectRaw bytes with RawTruncated set, none when MaxRejectRaw
// is negative or the line is over the size limit; accepted records have
// none. Each input is read whole and one byte at a time.
func CheckRejectRaw(t *testing.T, newReader func(io.Reader, format.Limits) format.Reader, in RawInput) {
	t.Helper()
	good, bad := in.Good, in.Bad
	long := bad + strings.Repeat(" ", 5000)
	def := format.Limits{}.WithDefaults().MaxRejectRaw
	// A limit every line of the input passes but the over-long one.
	size := len(good) + len(bad)
	for _, l := range strings.Split(in.Header, "\n") {
		size += len(l)
	}
	overLong := strings.Repeat("x", size+1)
	type want struct {
		raw       string // "" and accepted: no Raw
		accepted  bool
		truncated bool
		none      bool // rejected without Raw
	}
	ok, rej := want{accepted: true}, want{raw: bad}
	for _, tc := range []struct {
		name  string
		input string
		lim   format.Limits
		want  []want
	}{
		{"line endings", good + "\n" + bad + "\n" + bad + "\r\n" + good + "\r\n" + bad, format.Limits{},
			[]want{ok, rej, rej, ok, rej}},
		{"byte order mark", "\xef\xbb\xbf" + in.Header + bad + "\n" + good + "\n", format.Limits{}, []want{rej, ok}},
		{"cut", bad + "\n" + long + "\r\n" + good, format.Limits{},
			[]want{rej, {raw: long[:def], truncated: true}, ok}},
		{"cut to a small limit", bad + "\r\n" + bad, format.Limits{MaxRejectRaw: len(bad) - 1},
			[]want{{raw: bad[:len(bad)-1], truncated: true}, {raw: bad[:len(bad)-1], truncated: true}}},
		{"exactly the limit", bad + "\r\n" + bad, format.Limits{MaxRejectRaw: len(bad)}, []want{rej, rej}},
		{"one byte", bad + "\n", format.Limits{MaxRejectRaw: 1}, []want{{raw: bad[:1], truncated: true}}},
		{"keep none", good + "\n" + bad + "\n", format.Limits{MaxRejectRaw: -1}, []want{ok, {none: true}}},
		{"over the size limit", good + "\n" + overLong + "\n" + bad + "\n", format.Limits{MaxLineBytes: size, MaxRecordBytes: size},
			[]want{ok, {none: true}, rej}},
	} {
		input := tc.input
		if tc.name != "byte order mark" {
			input = in.Header + input
		}
		for _, oneByte := range []bool{false, true} {
			name := tc.name
			if oneByte {
				name += " one byte at a time"
			}
			t.Run(name, func(t *testing.T) {
				var r io.Reader = strings.NewReader(input)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				rd := newReader(r, tc.lim)
				var recs []format.Record
				for {
					rec, err := rd.Next()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatalf("Next: %v", err)
					}
					CheckRaw(t, tc.lim, rec)
					recs = append(recs, rec)
				}
				if len(recs) != len(tc.want) {
					t.Fatalf("%d records, want %d", len(recs), len(tc.want))
				}
				for i, w := range tc.want {
					rec := recs[i]
					switch {
					case w.accepted:
						if rec.Reject != nil || rec.Raw != nil || rec.RawTruncated {
							t.Errorf("record %d (line %d): reject %v, Raw %q (truncated %v); want accepted without Raw", i, rec.Line, rec.Reject, rec.Raw, rec.RawTruncated)
						}
					case rec.Reject == nil:
						t.Errorf("record %d (line %d) accepted, want rejected", i, rec.Line)
					case w.none:
						if rec.Raw != nil || rec.RawTruncated {
							t.Errorf("record %d (line %d): Raw %q (truncated %v), want none", i, rec.Line, rec.Raw, rec.RawTruncated)
						}
					case rec.Raw == nil || !bytes.Equal(rec.Raw, []byte(w.raw)) || rec.RawTruncated != w.truncated:
						t.Errorf("record %d (line %d): Raw %q (truncated %v), want %q (truncated %v)", i, rec.Line, rec.Raw, rec.RawTruncated, w.raw, w.truncated)
					}
				}
			})
		}
	}
}
