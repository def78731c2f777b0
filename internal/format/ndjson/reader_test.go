package ndjson

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/formattest"
)

// rec is the expected outcome of one record: accepted with Fields["k"]
// (when k is set) or rejected with code.
type rec struct {
	line, off int64
	code      string
	k         any
}

// readAll reads r to the end and returns its records and the final error
// (nil for io.EOF).
func readAll(t testing.TB, r format.Reader) ([]format.Record, error) {
	t.Helper()
	var out []format.Record
	for {
		rr, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			if _, err2 := r.Next(); err2 != err {
				t.Errorf("error not sticky: %v then %v", err, err2)
			}
			return out, err
		}
		out = append(out, rr)
		if len(out) > 1<<20 {
			t.Fatal("too many records")
		}
	}
}

func check(t *testing.T, got []format.Record, want []rec) {
	t.Helper()
	if len(got) != len(want) {
		for _, g := range got {
			t.Logf("got line %d off %d fields %v reject %v", g.Line, g.Offset, g.Fields, g.Reject)
		}
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Line != w.line || g.Offset != w.off {
			t.Errorf("record %d at line %d offset %d, want line %d offset %d", i, g.Line, g.Offset, w.line, w.off)
		}
		switch {
		case w.code != "":
			if g.Reject == nil || g.Reject.Code != w.code {
				t.Errorf("record %d: reject %v, want %s", i, g.Reject, w.code)
			} else {
				checkReason(t, g.Reject.Reason)
			}
			if g.Fields != nil {
				t.Errorf("record %d: rejected with fields", i)
			}
		default:
			if g.Reject != nil {
				t.Errorf("record %d: rejected %v", i, g.Reject)
			} else if g.Fields["k"] != w.k {
				t.Errorf("record %d: k = %#v, want %#v", i, g.Fields["k"], w.k)
			}
		}
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		lim  format.Limits
		want []rec
	}{
		{name: "empty", in: "", want: nil},
		{name: "only blank lines", in: "\n \r\n\t\n", want: nil},
		{name: "lf", in: "{\"k\":\"a\"}\n{\"k\":\"b\"}\n", want: []rec{{1, 0, "", "a"}, {2, 10, "", "b"}}},
		{name: "crlf", in: "{\"k\":\"a\"}\r\n{\"k\":\"b\"}\r\n", want: []rec{{1, 0, "", "a"}, {2, 11, "", "b"}}},
		{name: "no final newline", in: "{\"k\":\"a\"}\n{\"k\":\"b\"}", want: []rec{{1, 0, "", "a"}, {2, 10, "", "b"}}},
		{name: "bom", in: "\xef\xbb\xbf{\"k\":\"a\"}\n", want: []rec{{1, 3, "", "a"}}},
		{name: "bom only at start", in: "{}\n\xef\xbb\xbf{}\n", want: []rec{{1, 0, "", nil}, {2, 3, CodeInvalidJSON, nil}}},
		{name: "blank lines skipped, lines still counted",
			in:   "\n  \n{\"k\":\"a\"}\n\r\n\t \n{\"k\":\"b\"}\n\n",
			want: []rec{{3, 4, "", "a"}, {6, 19, "", "b"}}},
		{name: "every line is a record or a reject",
			in: "{\"k\":\"a\"}\n[1]\n{\"k\":1,\"k\":2}\nnot json " + secret + "\n{\"k\":\"\xff\"}\n\"" + secret + "\"\n{\"k\":\"z\"}\n",
			want: []rec{{1, 0, "", "a"}, {2, 10, CodeNotAnObject, nil}, {3, 14, CodeDuplicateKey, nil},
				{4, 28, CodeInvalidJSON, nil}, {5, 44, CodeInvalidUTF8, nil}, {6, 54, CodeNotAnObject, nil}, {7, 63, "", "z"}}},
		{name: "line too long", lim: format.Limits{MaxLineBytes: 12},
			in:   "{\"k\":\"123\"}\n{\"k\":\"1234\"}\n{\"k\":\"12345\"}\r\n" + strings.Repeat(" ", 40) + "\n{\"k\":\"ok\"}",
			want: []rec{{1, 0, "", "123"}, {2, 12, "", "1234"}, {3, 25, CodeLineTooLong, nil}, {5, 81, "", "ok"}}},
		{name: "long line across buffer", lim: format.Limits{MaxLineBytes: 20},
			in:   strings.Repeat("x", 100) + "\n{\"k\":\"b\"}\n",
			want: []rec{{1, 0, CodeLineTooLong, nil}, {2, 101, "", "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, NewReader(strings.NewReader(tt.in), tt.lim))
			if err != nil {
				t.Fatal(err)
			}
			check(t, got, tt.want)
		})
	}
}

// TestReaderHugeLine streams a 100 MB line from a generator: it becomes one
// line_too_long reject, the next line still parses, and memory stays
// bounded by the line limit.
func TestReaderHugeLine(t *testing.T) {
	huge := io.LimitReader(repeatByte('y'), 100<<20)
	in := io.MultiReader(strings.NewReader(`{"k":"a"}`+"\n"), huge, strings.NewReader("\n"+`{"k":"b"}`+"\n"))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got, err := readAll(t, NewReader(in, format.Limits{}))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, []rec{{1, 0, "", "a"}, {2, 10, CodeLineTooLong, nil}, {3, 10 + 100<<20 + 1, "", "b"}})
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 8<<20 {
		t.Errorf("allocated %d bytes for a 100 MB line; want bounded by the 1 MiB line limit", grown)
	}
}

type repeatByte byte

func (c repeatByte) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

type errReader struct {
	data string
	err  error
}

func (e *errReader) Read(p []byte) (int, error) {
	if e.data == "" {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

func TestReaderReadErrors(t *testing.T) {
	fail := format.Failf("decompression_bomb", nil, "too much")
	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"failure passes through", fail, "decompression_bomb"},
		{"other error wrapped", errors.New("connection reset"), CodeReadError},
		{"unexpected EOF wrapped", io.ErrUnexpectedEOF, CodeReadError},
	} {
		for _, mk := range []struct {
			name string
			new  func(io.Reader, format.Limits) format.Reader
			in   string
		}{{"ndjson", NewReader, "{\"k\":\"a\"}\n{\"k\""}, {"array", NewArrayReader, "[{\"k\":\"a\"},{\"k\""}} {
			t.Run(tc.name+"/"+mk.name, func(t *testing.T) {
				got, err := readAll(t, mk.new(&errReader{data: mk.in, err: tc.err}, format.Limits{}))
				var f *format.Failure
				if !errors.As(err, &f) || f.Code != tc.code {
					t.Fatalf("error %v, want failure %s", err, tc.code)
				}
				if len(got) != 1 || got[0].Fields["k"] != "a" {
					t.Errorf("records before the failure: %v", got)
				}
			})
		}
	}
}

func TestArrayReader(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		lim      format.Limits
		want     []rec
		failure  string
		failByte string // substring of the failure reason
	}{
		{name: "empty input", in: "", want: nil},
		{name: "whitespace", in: " \n ", want: nil},
		{name: "empty array", in: " [ ] \n", want: nil},
		{name: "compact", in: `[{"k":"a"},{"k":"b"}]`, want: []rec{{1, 1, "", "a"}, {1, 11, "", "b"}}},
		{name: "pretty", in: "\xef\xbb\xbf[\n  {\n    \"k\": \"a\"\n  },\r\n  {\"k\": \"b\"}\n]\n",
			want: []rec{{2, 7, "", "a"}, {5, 30, "", "b"}}},
		{name: "strings with brackets and escapes", in: `[{"k":"]}\"[{"},{"k":"\\"}]`, want: []rec{{1, 1, "", `]}"[{`}, {1, 16, "", `\`}}},
		{name: "non-object elements are rejects", in: `[1, "` + secret + `", [{"k":1}], null, true, {"k":"z"}]`,
			want: []rec{{1, 1, CodeNotAnObject, nil}, {1, 4, CodeNotAnObject, nil}, {1, 14, CodeNotAnObject, nil},
				{1, 25, CodeNotAnObject, nil}, {1, 31, CodeNotAnObject, nil}, {1, 37, "", "z"}}},
		{name: "semantic rejects keep going", in: "[{\"k\":1,\"k\":2},{\"k\":\"\xff\"},{\"k\":" + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "},{\"k\":\"ok\"}]",
			want: []rec{{1, 1, CodeDuplicateKey, nil}, {1, 15, CodeInvalidUTF8, nil}, {1, 25, CodeTooDeep, nil}, {1, 232, "", "ok"}}},
		{name: "element too long", lim: format.Limits{MaxRecordBytes: 16},
			in:   `[{"k":"short"},{"k":"` + strings.Repeat("x", 100) + `"},{"k":"c"}]`,
			want: []rec{{1, 1, "", "short"}, {1, 15, CodeRecordTooLong, nil}, {1, 124, "", "c"}}},
		{name: "deep element is cheap", in: "[" + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `,{"k":"a"}]`,
			want: []rec{{1, 1, CodeNotAnObject, nil}, {1, 200002, "", "a"}}},
		{name: "syntax error in element", in: `[{"k":"a"},{"k" 1},{"k":"c"}]`, want: []rec{{1, 1, "", "a"}},
			failure: CodeInvalidJSON, failByte: "byte 16"},
		{name: "missing comma", in: `[{"k":"a"} {"k":"b"}]`, want: []rec{{1, 1, "", "a"}}, failure: CodeInvalidJSON, failByte: "byte 11"},
		{name: "trailing comma", in: `[{"k":"a"},]`, want: []rec{{1, 1, "", "a"}}, failure: CodeInvalidJSON, failByte: "byte 11"},
		{name: "leading comma", in: `[,{"k":"a"}]`, failure: CodeInvalidJSON},
		{name: "bad literal", in: `[{"k":"a"},tru]`, want: []rec{{1, 1, "", "a"}}, failure: CodeInvalidJSON},
		{name: "literal then garbage", in: `[1{}]`, want: []rec{{1, 1, CodeNotAnObject, nil}}, failure: CodeInvalidJSON},
		{name: "truncated", in: `[{"k":"a"},{"k":"b"`, want: []rec{{1, 1, "", "a"}}, failure: CodeTruncated},
		{name: "truncated after element", in: `[{"k":"a"}`, want: []rec{{1, 1, "", "a"}}, failure: CodeTruncated},
		{name: "data after array", in: `[{"k":"a"}] ` + secret, want: []rec{{1, 1, "", "a"}}, failure: CodeInvalidJSON, failByte: "byte 12"},
		{name: "two arrays", in: `[][]`, failure: CodeInvalidJSON},
		{name: "object instead of array", in: `{"k":"a"}`, failure: CodeNotAnArray},
		{name: "ndjson instead of array", in: "{\"k\":\"a\"}\n{\"k\":\"b\"}\n", failure: CodeNotAnArray},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, NewArrayReader(strings.NewReader(tt.in), tt.lim))
			check(t, got, tt.want)
			if tt.failure == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			var f *format.Failure
			if !errors.As(err, &f) || f.Code != tt.failure {
				t.Fatalf("error %v, want failure %s", err, tt.failure)
			}
			checkReason(t, f.Reason)
			if !strings.Contains(f.Reason, tt.failByte) {
				t.Errorf("failure reason %q does not name %q", f.Reason, tt.failByte)
			}
		})
	}
}

// TestReaderRejectRaw: rejected NDJSON lines carry their bytes (the shared
// table of formattest.CheckRejectRaw).
func TestReaderRejectRaw(t *testing.T) {
	formattest.CheckRejectRaw(t, NewReader, formattest.RawInput{
		Good: `{"k":"a","n":1}`,
		Bad:  `{"k":"` + secret + `","k":2}`,
	})
}

// TestArrayReaderRejectRaw: a rejected array element carries its bytes,
// from its first to its last byte, line breaks included, cut to
// MaxRejectRaw; an accepted or over-long one has none.
func TestArrayReaderRejectRaw(t *testing.T) {
	dup := "{\"k\": \"" + secret + "\",\r\n  \"k\": 2}"
	long := `{"k":"` + strings.Repeat("x", 40) + `"}`
	in := "\xef\xbb\xbf[{\"k\":\"a\"}, " + dup + ",\n 12345 ," + long + ",\"" + secret + "\"]"
	type want struct {
		raw       string
		kept, cut bool
	}
	ok := want{}
	for _, tc := range []struct {
		name string
		lim  format.Limits
		want []want
	}{
		{"default limits", format.Limits{}, []want{ok, {dup, true, false}, {"12345", true, false}, ok, {`"` + secret + `"`, true, false}}},
		{"cut", format.Limits{MaxRejectRaw: 5}, []want{ok, {dup[:5], true, true}, {"12345", true, false}, ok, {`"` + secret[:4], true, true}}},
		{"element too long", format.Limits{MaxRecordBytes: len(dup)}, []want{ok, {dup, true, false}, {"12345", true, false}, {"", false, false}, {`"` + secret + `"`, true, false}}},
		{"keep none", format.Limits{MaxRejectRaw: -1}, []want{ok, {}, {}, ok, {}}},
	} {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(in)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			got, err := readAll(t, NewArrayReader(r, tc.lim))
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("%s: %d records, error %v", tc.name, len(got), err)
			}
			for i, w := range tc.want {
				g := got[i]
				formattest.CheckRaw(t, tc.lim, g)
				if (g.Raw != nil) != w.kept || string(g.Raw) != w.raw || g.RawTruncated != w.cut {
					t.Errorf("%s (one byte %v): element %d: Raw %q (truncated %v), want %q (kept %v, truncated %v)", tc.name, oneByte, i, g.Raw, g.RawTruncated, w.raw, w.kept, w.cut)
				}
			}
		}
	}
}

// TestArrayReaderStreams: a large array is read element by element with
// memory bounded by the element limit.
func TestArrayReaderStreams(t *testing.T) {
	const n = 200000
	elem := []byte(`{"k":"v","n":12345,"pad":"` + strings.Repeat("p", 200) + `"}`)
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte("["))
		for i := range n {
			if i > 0 {
				_, _ = pw.Write([]byte(",\n"))
			}
			_, _ = pw.Write(elem)
		}
		_, _ = pw.Write([]byte("]"))
		_ = pw.Close()
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := NewArrayReader(pr, format.Limits{})
	count := 0
	var peak uint64
	for {
		rr, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rr.Reject != nil {
			t.Fatal(rr.Reject)
		}
		count++
		if int64(count) != rr.Line {
			t.Fatalf("element %d on line %d", count, rr.Line)
		}
		if count%50000 == 0 {
			runtime.ReadMemStats(&after)
			peak = max(peak, after.HeapInuse)
		}
	}
	if count != n {
		t.Fatalf("%d records, want %d", count, n)
	}
	if total := int64(n) * int64(len(elem)+2); peak > before.HeapInuse+32<<20 {
		t.Errorf("heap in use grew to %d bytes reading a %d-byte array", peak, total)
	}
}

var _ = bytes.MinRead
