package ndjson

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/formattest"
)

// FuzzParseObject checks ParseObject against encoding/json and against the
// Token-API reference implementation.
//
// Invariant: ParseObject never panics; it returns exactly one of an object
// and a reject; an accepted input is valid JSON (json.Valid) and decodes to
// the same value with encoding/json (UseNumber); an input encoding/json
// rejects is rejected; invalid_json is only said of input encoding/json
// rejects too; acceptance agrees with the reference implementation; reject
// reasons are valid UTF-8 and never longer than a fixed bound (they quote
// no input).
func FuzzParseObject(f *testing.F) {
	lims := []format.Limits{{}, {MaxFields: 3, MaxFieldBytes: 8, MaxDepth: 3}}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, lim := range lims {
			lim = lim.WithDefaults()
			m, rej := ParseObject(b, lim)
			if (m == nil) == (rej == nil) {
				t.Fatalf("object %v and reject %v", m, rej)
			}
			valid := json.Valid(b)
			if rej != nil {
				if len(rej.Reason) > 120 || !utf8.ValidString(rej.Reason) {
					t.Fatalf("reason %q", rej.Reason)
				}
				if rej.Code == CodeInvalidJSON && valid {
					t.Fatalf("invalid_json for valid JSON: %v", rej)
				}
			} else {
				if !valid || !utf8.Valid(b) {
					t.Fatalf("accepted input encoding/json rejects")
				}
				dec := json.NewDecoder(bytes.NewReader(b))
				dec.UseNumber()
				var want map[string]any
				if err := dec.Decode(&want); err != nil {
					t.Fatalf("encoding/json: %v", err)
				}
				if !reflect.DeepEqual(m, want) {
					t.Fatalf("got %#v\nencoding/json %#v", m, want)
				}
			}
			rm, rrej, _ := refParseObject(b, lim)
			if (rrej == nil) != (rej == nil) {
				t.Fatalf("reject %v, reference reject %v", rej, rrej)
			}
			if rej == nil && !reflect.DeepEqual(m, rm) {
				t.Fatalf("got %#v\nreference %#v", m, rm)
			}
		}
	})
}

// FuzzNDJSON checks the NDJSON reader.
//
// Invariant: never panics; returns no error but io.EOF for an in-memory
// input; records are located with Line >= 1 and Offset >= 0, both strictly
// increasing, Offset at the start of a physical line and Line its number;
// every line that is not blank is exactly one record, accepted (with the
// fields ParseObject gives for that line) or rejected, so nothing is
// silently dropped; lines over the limit are line_too_long rejects (memory
// is bounded by MaxLineBytes, see TestReaderHugeLine); a rejected line
// (but a line_too_long one) carries its content in Raw, cut to
// MaxRejectRaw bytes (RawTruncated then set), so Raw is at most that long
// and a substring of the input; accepted records have no Raw.
func FuzzNDJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		const max, rawMax = 64, 16
		lim := format.Limits{MaxLineBytes: max, MaxRejectRaw: rawMax}.WithDefaults()
		got, err := readAll(t, NewReader(bytes.NewReader(in), lim))
		if err != nil {
			t.Fatalf("error %v", err)
		}
		// The expected records, computed the simple way.
		type want struct {
			line, off int64
			data      []byte
		}
		var wants []want
		body, off := in, int64(0)
		if bytes.HasPrefix(body, bom) {
			body, off = body[3:], 3
		}
		for n := int64(1); len(body) > 0; n++ {
			l, rest, found := bytes.Cut(body, []byte("\n"))
			data := l
			if found {
				data = bytes.TrimSuffix(l, []byte("\r"))
			}
			if len(bytes.Trim(data, " \t\r")) > 0 { // not only JSON whitespace
				wants = append(wants, want{n, off, data})
			}
			off += int64(len(l))
			if found {
				off++
			}
			body = rest
		}
		if len(got) != len(wants) {
			t.Fatalf("%d records, want %d", len(got), len(wants))
		}
		for i, w := range wants {
			g := got[i]
			formattest.CheckRaw(t, lim, g)
			if g.Line != w.line || g.Offset != w.off {
				t.Fatalf("record %d at line %d offset %d, want line %d offset %d", i, g.Line, g.Offset, w.line, w.off)
			}
			if len(w.data) > max {
				if g.Reject == nil || g.Reject.Code != CodeLineTooLong {
					t.Fatalf("record %d: %v, want line_too_long", i, g.Reject)
				}
				continue
			}
			m, rej := ParseObject(w.data, lim)
			if !reflect.DeepEqual(g.Fields, m) || !reflect.DeepEqual(g.Reject, rej) {
				t.Fatalf("record %d: %v %v, want %v %v", i, g.Fields, g.Reject, m, rej)
			}
			if rej != nil && (!bytes.Equal(g.Raw, w.data[:min(len(w.data), rawMax)]) || g.RawTruncated != (len(w.data) > rawMax)) {
				t.Fatalf("record %d: Raw %q (truncated %v) of line %q", i, g.Raw, g.RawTruncated, w.data)
			}
		}
	})
}

// FuzzArray checks the JSON array reader.
//
// Invariant: never panics; returns no error but io.EOF or a *format.Failure;
// records are located with Line >= 1 and Offset >= 0, strictly increasing,
// at a byte that starts a JSON value; a rejected record has no fields; for
// a valid JSON array (json.Valid) there is no failure and exactly one
// record per element (nothing silently dropped), each accepted one equal
// to what encoding/json decodes from that element; a rejected record (but
// a record_too_long one) carries the element's bytes in Raw, at most
// MaxRejectRaw of them, starting at its Offset in the input (the whole
// element, as encoding/json delimits it, unless RawTruncated); accepted
// records have no Raw.
func FuzzArray(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		lim := format.Limits{MaxRecordBytes: 256, MaxRejectRaw: 32}
		got, err := readAll(t, NewArrayReader(bytes.NewReader(in), lim))
		if err != nil && !format.IsFailure(err) {
			t.Fatalf("error %v is not a failure", err)
		}
		last := int64(-1)
		for i, g := range got {
			if g.Line < 1 || g.Offset <= last || g.Offset >= int64(len(in)) {
				t.Fatalf("record %d at line %d offset %d (previous offset %d)", i, g.Line, g.Offset, last)
			}
			last = g.Offset
			if wantLine := int64(bytes.Count(in[:g.Offset], []byte("\n"))) + 1; g.Line != wantLine {
				t.Fatalf("record %d on line %d, want %d", i, g.Line, wantLine)
			}
			if c := in[g.Offset]; isSpace(c) || c == ',' || c == ']' {
				t.Fatalf("record %d starts at byte %q", i, c)
			}
			if (g.Reject == nil) == (g.Fields == nil) {
				t.Fatalf("record %d: fields %v and reject %v", i, g.Fields, g.Reject)
			}
			formattest.CheckRaw(t, lim, g)
			if !bytes.HasPrefix(in[g.Offset:], g.Raw) {
				t.Fatalf("record %d: Raw %q is not the input at offset %d", i, g.Raw, g.Offset)
			}
		}
		trimmed := bytes.TrimPrefix(in, bom)
		if !json.Valid(trimmed) || !bytes.HasPrefix(bytes.TrimLeft(trimmed, " \t\r\n"), []byte("[")) {
			return
		}
		if err != nil {
			t.Fatalf("failure %v for a valid array", err)
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(trimmed, &elems); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(elems) {
			t.Fatalf("%d records for %d elements", len(got), len(elems))
		}
		for i, g := range got {
			if g.Reject != nil {
				if g.Raw != nil && !g.RawTruncated && !bytes.Equal(g.Raw, elems[i]) {
					t.Fatalf("element %d: Raw %q, want %q", i, g.Raw, elems[i])
				}
				continue
			}
			dec := json.NewDecoder(bytes.NewReader(elems[i]))
			dec.UseNumber()
			var want map[string]any
			if err := dec.Decode(&want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g.Fields, want) {
				t.Fatalf("element %d: %v, want %v", i, g.Fields, want)
			}
		}
	})
}

var _ = io.EOF
