package delimited

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"testing"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/formattest"
)

// FuzzReader checks the delimited reader on arbitrary input, with each
// delimiter, with default and with tiny limits.
//
// Invariant: never panics; returns no error but io.EOF or a *format.Failure;
// records are located with Line >= 1 and Offset >= 0, both strictly
// increasing, Line being the line of the byte at Offset; a record is either
// accepted with one value per header column or rejected without fields;
// memory is bounded by the limits (the record buffer never exceeds
// MaxRecordBytes); a record_too_long reject names the lines it covers and
// the next record starts after them; a rejected record (but a
// record_too_long one) carries its bytes in Raw, at most MaxRejectRaw of
// them, starting at its Offset in the input and, unless RawTruncated,
// followed there by its line ending (LF, CRLF, or a CR or nothing at the
// end of the input); accepted records have no Raw. With default limits
// and input that encoding/csv reads without error (no CR, no BOM, comma),
// nothing is silently dropped or changed: there is one record per
// encoding/csv record after the header, on the same line, accepted with
// the same values, or rejected as ragged_row or invalid_utf8 exactly when
// that applies.
func FuzzReader(f *testing.F) {
	delims := []rune{',', '\t', ';', '|'}
	f.Fuzz(func(t *testing.T, in []byte, delimSel uint8, small bool) {
		opts := Options{Delimiter: delims[int(delimSel)%len(delims)]}
		if small {
			opts.Limits = format.Limits{MaxRecordBytes: 24, MaxFieldBytes: 6, MaxFields: 4, MaxRejectRaw: 10}
			opts.Comment = '#'
		}
		lim := opts.Limits.WithDefaults()
		rd := NewReader(bytes.NewReader(in), opts)
		got, err := readAll(t, rd)
		if err != nil && !format.IsFailure(err) {
			t.Fatalf("error %v is not a failure", err)
		}
		inner := rd.(*reader)
		if cap(inner.buf) > 2*lim.MaxRecordBytes+64 {
			t.Fatalf("record buffer grew to %d bytes", cap(inner.buf))
		}
		lastOff, lastTo := int64(-1), int64(0)
		for i, g := range got {
			if g.Line < 1 || g.Offset <= lastOff || g.Offset >= int64(len(in)) || g.Line <= lastTo {
				t.Fatalf("record %d at line %d offset %d (previous offset %d, skipped to line %d)", i, g.Line, g.Offset, lastOff, lastTo)
			}
			lastOff = g.Offset
			if want := int64(bytes.Count(in[:g.Offset], []byte("\n"))) + 1; g.Line != want {
				t.Fatalf("record %d on line %d, its offset is on line %d", i, g.Line, want)
			}
			formattest.CheckRaw(t, lim, g)
			if rest := in[g.Offset:]; !bytes.HasPrefix(rest, g.Raw) {
				t.Fatalf("record %d: Raw %q is not the input at offset %d", i, g.Raw, g.Offset)
			} else if after := rest[len(g.Raw):]; g.Raw != nil && !g.RawTruncated &&
				!(len(after) == 0 || after[0] == '\n' || bytes.HasPrefix(after, []byte("\r\n")) || string(after) == "\r") {
				t.Fatalf("record %d: Raw %q is not followed by a line ending", i, g.Raw)
			}
			if g.Reject != nil {
				if g.Fields != nil || len(g.Reject.Reason) > 160 {
					t.Fatalf("record %d: fields %v reject %v", i, g.Fields, g.Reject)
				}
				if g.Reject.Code == CodeRecordTooLong {
					var lim, from, to int64
					if _, err := fmt.Sscanf(g.Reject.Reason, "record is longer than %d bytes; lines %d to %d were skipped as part of it", &lim, &from, &to); err != nil || from != g.Line || to < from {
						t.Fatalf("reason %q", g.Reject.Reason)
					}
					lastTo = to
				}
				continue
			}
			if len(g.Fields) != len(inner.header) {
				t.Fatalf("record %d has %d fields, header %d", i, len(g.Fields), len(inner.header))
			}
		}
		if small || opts.Delimiter != ',' || bytes.ContainsRune(in, '\r') || bytes.HasPrefix(in, bom) {
			return
		}
		// Differential check against encoding/csv.
		cr := csv.NewReader(bytes.NewReader(in))
		cr.FieldsPerRecord = -1
		var want [][]string
		var lines []int
		for {
			recd, err := cr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return // encoding/csv refuses it (bare or extraneous quote...)
			}
			line, _ := cr.FieldPos(0)
			want = append(want, recd)
			lines = append(lines, line)
		}
		var fl *format.Failure
		if errors.As(err, &fl) && (fl.Code == CodeDuplicateHeader || fl.Code == CodeBadHeader || fl.Code == CodeTooManyFields) {
			return // header problems: checked by the table tests
		}
		if err != nil {
			t.Fatalf("failure %v for input encoding/csv reads", err)
		}
		if len(want) == 0 {
			if len(got) != 0 {
				t.Fatalf("%d records, encoding/csv none", len(got))
			}
			return
		}
		header := inner.header
		if len(got) != len(want)-1 {
			t.Fatalf("%d records, encoding/csv %d after the header", len(got), len(want)-1)
		}
		for i, g := range got {
			w := want[i+1]
			if g.Line != int64(lines[i+1]) {
				t.Fatalf("record %d on line %d, encoding/csv line %d", i, g.Line, lines[i+1])
			}
			switch {
			case len(w) != len(header):
				if g.Reject == nil || g.Reject.Code != CodeRaggedRow {
					t.Fatalf("record %d: %v, want ragged_row", i, g.Reject)
				}
			case !allUTF8(w):
				if g.Reject == nil || g.Reject.Code != CodeInvalidUTF8 {
					t.Fatalf("record %d: %v, want invalid_utf8", i, g.Reject)
				}
			default:
				if g.Reject != nil {
					t.Fatalf("record %d rejected: %v", i, g.Reject)
				}
				for j, name := range header {
					if g.Fields[name] != w[j] {
						t.Fatalf("record %d column %d: %q, encoding/csv %q", i, j, g.Fields[name], w[j])
					}
				}
			}
		}
	})
}

func allUTF8(fields []string) bool {
	for _, s := range fields {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}
