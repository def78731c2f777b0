package formattest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/internal/format"
)

// CheckReader drains rd, which reads input, and checks the format.Reader
// contract on the way:
//
//   - Next never panics and ends with io.EOF or a *format.Failure, which is
//     sticky;
//   - every record has Line >= 1 and Offset >= 0, both strictly increasing,
//     Offset at the start of line Line of input;
//   - a record has Raw bytes only when rejected, and they are its line
//     (SplitLines), whole unless RawTruncated, which is only set with Raw;
//   - a record has Fields or a Reject, never both, and a Reject has a code
//     and a short reason;
//   - every input line up to the end (or, after a Failure, up to the last
//     record) is a record or satisfies skippable: nothing is dropped
//     silently.
//
// It returns the records and the Failure (nil at io.EOF).
func CheckReader(t testing.TB, input []byte, rd format.Reader, skippable func(line []byte) bool) ([]format.Record, error) {
	t.Helper()
	lines := SplitLines(input)
	starts := make([]int64, 0, len(lines))
	for i, off := 0, int64(0); i < len(lines); i++ {
		starts = append(starts, off)
		if j := bytes.IndexByte(input[off:], '\n'); j >= 0 {
			off += int64(j) + 1
		}
	}
	var recs []format.Record
	var final error
	for {
		rec, err := rd.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				var f *format.Failure
				if !errors.As(err, &f) {
					t.Fatalf("Next returned %T %v, want io.EOF or *format.Failure", err, err)
				}
				if f.Code == "" || f.Reason == "" {
					t.Fatalf("failure without code or reason: %#v", f)
				}
				final = err
			}
			if _, err2 := rd.Next(); err2 != err && !(errors.Is(err, io.EOF) && errors.Is(err2, io.EOF)) {
				t.Fatalf("error not sticky: %v then %v", err, err2)
			}
			break
		}
		if rec.Line < 1 || rec.Offset < 0 {
			t.Fatalf("record located at line %d offset %d", rec.Line, rec.Offset)
		}
		if n := len(recs); n > 0 && (rec.Line <= recs[n-1].Line || rec.Offset <= recs[n-1].Offset) {
			t.Fatalf("record at line %d offset %d after line %d offset %d", rec.Line, rec.Offset, recs[n-1].Line, recs[n-1].Offset)
		}
		if rec.Offset > int64(len(input)) || (rec.Offset > 0 && input[rec.Offset-1] != '\n') {
			t.Fatalf("record offset %d is not at a line start", rec.Offset)
		}
		if rec.Line > int64(len(starts)) || starts[rec.Line-1] != rec.Offset {
			t.Fatalf("record at offset %d says line %d, which starts elsewhere", rec.Offset, rec.Line)
		}
		if (rec.Fields == nil) == (rec.Reject == nil) {
			t.Fatalf("line %d: want exactly one of Fields and Reject, got %v and %v", rec.Line, rec.Fields, rec.Reject)
		}
		if rec.Reject != nil && (rec.Reject.Code == "" || rec.Reject.Reason == "" || len(rec.Reject.Reason) > 300) {
			t.Fatalf("line %d: bad reject %#v", rec.Line, rec.Reject)
		}
		if rec.Raw != nil || rec.RawTruncated {
			// Not %q: the bytes stand for personal data; say where they differ.
			line := lines[rec.Line-1]
			switch {
			case rec.Reject == nil:
				t.Fatalf("line %d: accepted record with Raw (%d bytes, truncated %v)", rec.Line, len(rec.Raw), rec.RawTruncated)
			case rec.Raw == nil:
				t.Fatalf("line %d: RawTruncated without Raw", rec.Line)
			case !bytes.HasPrefix(line, rec.Raw) || (!rec.RawTruncated && len(rec.Raw) != len(line)):
				t.Fatalf("line %d: Raw (%d bytes, truncated %v) is not the %d-byte line", rec.Line, len(rec.Raw), rec.RawTruncated, len(line))
			}
		}
		for k, v := range rec.Fields {
			if !utf8.ValidString(k) {
				t.Fatalf("line %d: key is not UTF-8", rec.Line)
			}
			CheckValue(t, rec.Line, v)
		}
		recs = append(recs, rec)
		if len(recs) > len(lines)+1 {
			t.Fatalf("more records (%d) than lines (%d)", len(recs), len(lines))
		}
	}
	seen := make(map[int64]bool, len(recs))
	for _, r := range recs {
		seen[r.Line] = true
	}
	upto := int64(len(lines))
	if final != nil {
		upto = 0
		if len(recs) > 0 {
			upto = recs[len(recs)-1].Line
		}
	}
	for i := int64(1); i <= upto; i++ {
		if !seen[i] && !skippable(lines[i-1]) {
			t.Fatalf("line %d yielded no record and is not a documented skip", i)
		}
	}
	return recs, final
}

// SplitLines splits input the way the line readers do: at LF, a CR before
// the LF dropped (a last line without LF keeps a final CR: it is content),
// no empty last line after a final LF, a BOM dropped.
func SplitLines(input []byte) [][]byte {
	if len(input) == 0 {
		return nil
	}
	ls := bytes.Split(input, []byte("\n"))
	last := len(ls) - 1 // what follows the last LF: a line without LF, if not empty
	if len(ls[last]) == 0 {
		ls = ls[:last]
	}
	for i, l := range ls {
		if i < last {
			ls[i] = bytes.TrimSuffix(l, []byte("\r"))
		}
	}
	ls[0] = bytes.TrimPrefix(ls[0], []byte("\xef\xbb\xbf"))
	return ls
}

// IsBlankLine is the skip every line reader documents: a line of only
// spaces and tabs, or an empty one.
func IsBlankLine(l []byte) bool { return len(bytes.Trim(l, " \t")) == 0 }

// CheckValue checks a field value has one of the documented types, strings
// are UTF-8 and numbers are valid JSON.
func CheckValue(t testing.TB, line int64, v any) {
	t.Helper()
	switch x := v.(type) {
	case nil, bool:
	case string:
		if !utf8.ValidString(x) {
			t.Fatalf("line %d: string value is not UTF-8", line)
		}
	case json.Number:
		if !json.Valid([]byte(x)) {
			t.Fatalf("line %d: number %q is not valid JSON", line, x)
		}
	case []any:
		if x == nil {
			t.Fatalf("line %d: nil slice", line)
		}
		for _, e := range x {
			CheckValue(t, line, e)
		}
	case map[string]any:
		for k, e := range x {
			if !utf8.ValidString(k) {
				t.Fatalf("line %d: key is not UTF-8", line)
			}
			CheckValue(t, line, e)
		}
	default:
		t.Fatalf("line %d: value of type %T", line, v)
	}
}
