package delimited

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/formattest"
)

// secret marks input values: no reason may contain it.
const secret = "S3CRET"

// readAll reads r to the end and returns its records and the final error
// (nil for io.EOF).
func readAll(t testing.TB, r format.Reader) ([]format.Record, error) {
	t.Helper()
	var out []format.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			if _, err2 := r.Next(); err2 != io.EOF {
				t.Errorf("EOF not sticky: %v", err2)
			}
			return out, nil
		}
		if err != nil {
			if _, err2 := r.Next(); err2 != err {
				t.Errorf("error not sticky: %v then %v", err, err2)
			}
			return out, err
		}
		out = append(out, rec)
	}
}

func checkReason(t testing.TB, reason string) {
	t.Helper()
	if reason == "" || strings.Contains(reason, secret) || !utf8.ValidString(reason) {
		t.Errorf("reason %q is empty or quotes input", reason)
	}
}

// rec is an expected record: fields (accepted) or a reject code.
type rec struct {
	line, off int64
	code      string
	fields    map[string]any
}

func f(kv ...string) map[string]any {
	m := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestReader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		opts    Options
		want    []rec
		failure string
	}{
		{name: "empty input", in: ""},
		{name: "header only", in: "a,b\n"},
		{name: "basic", in: "a,b,c\n1,2,3\n4,5,6\n",
			want: []rec{{2, 6, "", f("a", "1", "b", "2", "c", "3")}, {3, 12, "", f("a", "4", "b", "5", "c", "6")}}},
		{name: "crlf", in: "a,b\r\n1,2\r\n3,4\r\n",
			want: []rec{{2, 5, "", f("a", "1", "b", "2")}, {3, 10, "", f("a", "3", "b", "4")}}},
		{name: "no final newline", in: "a,b\n1,2\n3,4",
			want: []rec{{2, 4, "", f("a", "1", "b", "2")}, {3, 8, "", f("a", "3", "b", "4")}}},
		{name: "final CR", in: "a,b\n1,2\r", want: []rec{{2, 4, "", f("a", "1", "b", "2")}}},
		{name: "bom", in: "\xef\xbb\xbfa,b\n1,2\n", want: []rec{{2, 7, "", f("a", "1", "b", "2")}}},
		{name: "quoted fields", in: "a,b\n\"x,y\",\"he said \"\"hi\"\"\nbye\"\n3,4\n",
			want: []rec{{2, 4, "", f("a", "x,y", "b", "he said \"hi\"\nbye")}, {4, 31, "", f("a", "3", "b", "4")}}},
		{name: "quoted crlf kept", in: "a\n\"x\r\ny\"\n", want: []rec{{2, 2, "", f("a", "x\r\ny")}}},
		{name: "empty fields", in: "a,b,c\n,,\n", want: []rec{{2, 6, "", f("a", "", "b", "", "c", "")}}},
		{name: "quoted empty field is a record", in: "a\n\"\"\n", want: []rec{{2, 2, "", f("a", "")}}},
		{name: "blank lines skipped", in: "\na,b\n\n1,2\n\r\n3,4\n\n",
			want: []rec{{4, 6, "", f("a", "1", "b", "2")}, {6, 12, "", f("a", "3", "b", "4")}}},
		{name: "whitespace kept", in: "a, b\n 1 , 2 \n", want: []rec{{2, 5, "", f("a", " 1 ", " b", " 2 ")}}},
		{name: "bare quote is literal", in: "a,b\nx\"y,2\n", want: []rec{{2, 4, "", f("a", "x\"y", "b", "2")}}},
		{name: "lone CR is content", in: "a,b\nx\ry,2\n", want: []rec{{2, 4, "", f("a", "x\ry", "b", "2")}}},
		{name: "ragged rows", in: "a,b\n1\n1,2,3\n" + secret + "\n4,5\n",
			want: []rec{{2, 4, CodeRaggedRow, nil}, {3, 6, CodeRaggedRow, nil}, {4, 12, CodeRaggedRow, nil}, {5, 19, "", f("a", "4", "b", "5")}}},
		{name: "bad quote", in: "a,b\n\"x\"" + secret + ",2\n3,4\n",
			want: []rec{{2, 4, CodeBadQuote, nil}, {3, 16, "", f("a", "3", "b", "4")}}},
		{name: "CR after closing quote", in: "a,b\n\"x\"\ry,2\n3,4\n",
			want: []rec{{2, 4, CodeBadQuote, nil}, {3, 12, "", f("a", "3", "b", "4")}}},
		{name: "invalid utf8", in: "a,b\n" + secret + "\xff,1\n3,4\n",
			want: []rec{{2, 4, CodeInvalidUTF8, nil}, {3, 14, "", f("a", "3", "b", "4")}}},
		{name: "field too long", opts: Options{Limits: format.Limits{MaxFieldBytes: 4}}, in: "a,b\n12345,1\n1234,\"1\"\"34\"\n\"12\"\"45\",1\n",
			want: []rec{{2, 4, CodeFieldTooLong, nil}, {3, 12, "", f("a", "1234", "b", "1\"34")}, {4, 25, CodeFieldTooLong, nil}}},
		{name: "record too long", opts: Options{Limits: format.Limits{MaxRecordBytes: 10}}, in: "a,b\n12345,123456\n1234,1234\r\n1,2\n",
			want: []rec{{2, 4, CodeRecordTooLong, nil}, {3, 17, "", f("a", "1234", "b", "1234")}, {4, 28, "", f("a", "1", "b", "2")}}},
		{name: "unclosed quote resynchronises", opts: Options{Limits: format.Limits{MaxRecordBytes: 20}},
			in:   "a,b\n\"x,1\n1,2\n3,4\n5,6\n7,8\n9,10\n",
			want: []rec{{2, 4, CodeRecordTooLong, nil}, {7, 25, "", f("a", "9", "b", "10")}}},
		{name: "limit crossed mid-line resumes after that line", opts: Options{Limits: format.Limits{MaxRecordBytes: 18}},
			in:   "a,b\n\"x,1\n1,2\n3,4\n5,6\n7,8\n9,10\n",
			want: []rec{{2, 4, CodeRecordTooLong, nil}, {7, 25, "", f("a", "9", "b", "10")}}},
		{name: "unclosed quote at end", in: "a,b\n1,2\n3,\"" + secret + "\n5,6\n",
			want: []rec{{2, 4, "", f("a", "1", "b", "2")}, {3, 8, CodeUnclosedQuote, nil}}},
		{name: "tsv", opts: Options{Delimiter: '\t'}, in: "a\tb\n1,5\t\"2\t3\"\n",
			want: []rec{{2, 4, "", f("a", "1,5", "b", "2\t3")}}},
		{name: "semicolon", opts: Options{Delimiter: ';'}, in: "a;b\n1,5;2\n", want: []rec{{2, 4, "", f("a", "1,5", "b", "2")}}},
		{name: "pipe", opts: Options{Delimiter: '|'}, in: "a|b\n1|2\n", want: []rec{{2, 4, "", f("a", "1", "b", "2")}}},
		{name: "comments", opts: Options{Comment: '#'}, in: "# " + secret + "\na,b\n#x,y\n1,#2\n\"x\n#y\",3\n#",
			want: []rec{{4, 18, "", f("a", "1", "b", "#2")}, {5, 23, "", f("a", "x\n#y", "b", "3")}}},
		{name: "no comments by default", in: "a,b\n#x,y\n", want: []rec{{2, 4, "", f("a", "#x", "b", "y")}}},
		{name: "explicit header", opts: Options{Header: []string{"x", "", "z"}}, in: "1,2,3\n",
			want: []rec{{1, 0, "", f("x", "1", "column_2", "2", "z", "3")}}},
		{name: "empty header name", in: ",b,\n1,2,3\n", want: []rec{{2, 4, "", f("column_1", "1", "b", "2", "column_3", "3")}}},
		{name: "duplicate header", in: "a,b,a\n1,2,3\n", failure: CodeDuplicateHeader},
		{name: "generated name collides", in: "column_2,\n1,2\n", failure: CodeDuplicateHeader},
		{name: "explicit duplicate header", opts: Options{Header: []string{"x", "x"}}, in: "1,2\n", failure: CodeDuplicateHeader},
		{name: "header too wide", opts: Options{Limits: format.Limits{MaxFields: 2}}, in: "a,b,c\n1,2,3\n", failure: CodeTooManyFields},
		{name: "header bad quote", in: "\"a\"b,c\n1,2\n", failure: CodeBadHeader},
		{name: "header invalid utf8", in: "a\xff,c\n1,2\n", failure: CodeBadHeader},
		{name: "header unclosed quote", in: "a,\"b\n1,2\n", failure: CodeBadHeader},
		{name: "bad delimiter", opts: Options{Delimiter: 'x'}, in: "a\n", failure: CodeInvalidOptions},
		{name: "bad comment", opts: Options{Comment: '"'}, in: "a\n", failure: CodeInvalidOptions},
		{name: "comment equals delimiter", opts: Options{Comment: ','}, in: "a\n", failure: CodeInvalidOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, NewReader(strings.NewReader(tt.in), tt.opts))
			if tt.failure != "" {
				var fl *format.Failure
				if !errors.As(err, &fl) || fl.Code != tt.failure {
					t.Fatalf("error %v, want failure %s", err, tt.failure)
				}
				checkReason(t, fl.Reason)
			} else if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				for _, g := range got {
					t.Logf("got line %d off %d %v %v", g.Line, g.Offset, g.Fields, g.Reject)
				}
				t.Fatalf("%d records, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Line != w.line || g.Offset != w.off {
					t.Errorf("record %d at line %d offset %d, want line %d offset %d", i, g.Line, g.Offset, w.line, w.off)
				}
				if w.code != "" {
					if g.Reject == nil || g.Reject.Code != w.code || g.Fields != nil {
						t.Errorf("record %d: %v %v, want reject %s", i, g.Fields, g.Reject, w.code)
					} else {
						checkReason(t, g.Reject.Reason)
					}
					continue
				}
				if g.Reject != nil || !reflect.DeepEqual(g.Fields, w.fields) {
					t.Errorf("record %d: %q %v, want %q", i, g.Fields, g.Reject, w.fields)
				}
			}
		})
	}
}

// TestRecordTooLongReason: the reject names the lines it covers.
func TestRecordTooLongReason(t *testing.T) {
	in := "a,b\n\"x,1\n1,2\n3,4\n5,6\n7,8\n9,10\n"
	got, err := readAll(t, NewReader(strings.NewReader(in), Options{Limits: format.Limits{MaxRecordBytes: 20}}))
	if err != nil {
		t.Fatal(err)
	}
	if want := "record is longer than 20 bytes; lines 2 to 6 were skipped as part of it"; got[0].Reject.Reason != want {
		t.Errorf("reason %q, want %q", got[0].Reject.Reason, want)
	}
}

func TestReadErrors(t *testing.T) {
	fail := format.Failf("truncated", nil, "cut")
	for _, tc := range []struct {
		err  error
		code string
	}{{fail, "truncated"}, {errors.New("reset"), CodeReadError}} {
		r := NewReader(io.MultiReader(strings.NewReader("a,b\n1,2\n3,"), &errReader{tc.err}), Options{})
		got, err := readAll(t, r)
		var fl *format.Failure
		if !errors.As(err, &fl) || fl.Code != tc.code || len(got) != 1 {
			t.Errorf("%d records, error %v; want 1 and %s", len(got), err, tc.code)
		}
	}
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

// rows generates a CSV input of n data rows ("id,name,value", row i on line
// i+1) without holding it in memory; bad, when > 0, is a row whose second
// field opens a quote that is never closed.
type rows struct {
	n, i, bad int
	pending   []byte
}

func (g *rows) Read(p []byte) (int, error) {
	for len(g.pending) < len(p) && g.i <= g.n {
		switch {
		case g.i == 0:
			g.pending = append(g.pending, "id,name,value\n"...)
		case g.i == g.bad:
			g.pending = fmt.Appendf(g.pending, "%d,\"unclosed %s,%d\n", g.i, secret, g.i)
		default:
			g.pending = fmt.Appendf(g.pending, "%d,name %d,%d\n", g.i, g.i, g.i*7)
		}
		g.i++
	}
	if len(g.pending) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.pending)
	g.pending = g.pending[:copy(g.pending, g.pending[n:])]
	return n, nil
}

// TestUnclosedQuoteInLargeFile: an unclosed quote near the start of a 50 MB
// input swallows one record's worth of lines (MaxRecordBytes), is rejected
// with record_too_long, and every later row is accepted: the accepted rows
// plus the lines the reject covers are all the rows. Memory stays bounded.
func TestUnclosedQuoteInLargeFile(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB input")
	}
	const n = 2_500_000 // about 50 MB
	g := &rows{n: n, bad: 3}
	r := NewReader(g, Options{})
	var accepted, rejected, covered int64
	var peak uint64
	var ms runtime.MemStats
	next := int64(2) // line of the next expected row
	for {
		if (accepted+rejected)%250_000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Line != next {
			t.Fatalf("record at line %d, want %d", rec.Line, next)
		}
		if rec.Reject != nil {
			rejected++
			checkReason(t, rec.Reject.Reason)
			var from, to int64
			if _, err := fmt.Sscanf(rec.Reject.Reason, "record is longer than 4194304 bytes; lines %d to %d were skipped as part of it", &from, &to); err != nil || rec.Reject.Code != CodeRecordTooLong || from != rec.Line {
				t.Fatalf("reject %v", rec.Reject)
			}
			covered += to - from + 1
			next = to + 1
			continue
		}
		accepted++
		id := fmt.Sprint(rec.Line - 1)
		if rec.Fields["id"] != id || rec.Fields["name"] != "name "+id {
			t.Fatalf("line %d: %v", rec.Line, rec.Fields)
		}
		next++
	}
	if rejected != 1 || accepted+covered != n || covered < 100000 {
		t.Errorf("accepted %d, rejected %d covering %d lines; want 1 reject and %d rows in all", accepted, rejected, covered, n)
	}
	if peak > 64<<20 {
		t.Errorf("heap in use reached %d bytes", peak)
	}
	t.Logf("%d rows accepted, 1 reject covering %d lines; peak heap in use %d bytes", accepted, covered, peak)
}

// TestHugeLineBoundedMemory: a 100 MB line without quotes or newlines,
// streamed from a generator, is one record_too_long reject using memory
// bounded by MaxRecordBytes; the next row parses.
func TestHugeLineBoundedMemory(t *testing.T) {
	huge := io.LimitReader(repeatByte('y'), 100<<20)
	in := io.MultiReader(strings.NewReader("a,b\n"), huge, strings.NewReader("\n1,2\n"))
	allocs := measureAlloc(func() {
		got, err := readAll(t, NewReader(in, Options{}))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Reject == nil || got[0].Reject.Code != CodeRecordTooLong || got[1].Fields["b"] != "2" || got[1].Line != 3 {
			t.Fatalf("records %v", got)
		}
	})
	if allocs > 16<<20 {
		t.Errorf("allocated %d bytes for a 100 MB line", allocs)
	}
}

type repeatByte byte

func (c repeatByte) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

// TestRejectRaw: a rejected row carries its bytes (the shared table of
// formattest.CheckRejectRaw).
func TestRejectRaw(t *testing.T) {
	formattest.CheckRejectRaw(t, func(r io.Reader, lim format.Limits) format.Reader { return NewReader(r, Options{Limits: lim}) },
		formattest.RawInput{Header: "a,b\n", Good: `1,"x ""y"""`, Bad: `1,"` + secret + `"z`})
}

// TestRejectRawRecord: Raw is the whole record as read, quotes and quoted
// line breaks included, its line ending (LF, CRLF, a CR at the end of the
// input) not; a record over MaxRecordBytes keeps none.
func TestRejectRawRecord(t *testing.T) {
	type want struct {
		raw     string
		ok, cut bool
		none    bool // rejected without Raw
	}
	ok := want{ok: true}
	wide := strings.Repeat("x", 70000) + ",1,2" // spans read buffers
	tests := []struct {
		name string
		in   string
		opts Options
		want []want
	}{
		{name: "quoted line breaks", in: "a,b\n1,\"x\n" + secret + "\",3\n2,3\n", want: []want{{raw: "1,\"x\n" + secret + "\",3"}, ok}},
		{name: "quoted CRLF, CRLF end", in: "a,b\r\n1,\"x\r\ny\",3\r\n4,5\r\n", want: []want{{raw: "1,\"x\r\ny\",3"}, ok}},
		{name: "unclosed quote at the end", in: "a,b\n1,2\n3,\"" + secret + "\n5,6\n", want: []want{ok, {raw: "3,\"" + secret + "\n5,6\n"}}},
		{name: "CR at the end of the input", in: "a,b\n1,2,3\r", want: []want{{raw: "1,2,3"}}},
		{name: "CR after a closing quote at the end", in: "a,b\n1,\"2\",3\r", want: []want{{raw: "1,\"2\",3"}}},
		{name: "lone CR is content", in: "a,b\n1\r2,3,4\n", want: []want{{raw: "1\r2,3,4"}}},
		{name: "after a blank CRLF line", in: "a,b\n\r\n\n1,2,3\n", want: []want{{raw: "1,2,3"}}},
		{name: "after a comment", opts: Options{Comment: '#'}, in: "a,b\n#" + secret + "\n1,2,3\n", want: []want{{raw: "1,2,3"}}},
		{name: "given header", opts: Options{Header: []string{"a", "b"}}, in: "1,2,3\n", want: []want{{raw: "1,2,3"}}},
		{name: "bad quote", in: "a,b\n\"x\"" + secret + ",2\n", want: []want{{raw: "\"x\"" + secret + ",2"}}},
		{name: "invalid UTF-8", in: "a,b\n\xff,1\n", want: []want{{raw: "\xff,1"}}},
		{name: "field too long", opts: Options{Limits: format.Limits{MaxFieldBytes: 3}}, in: "a,b\n1234,5\n1,2\n", want: []want{{raw: "1234,5"}, ok}},
		{name: "cut inside quotes", opts: Options{Limits: format.Limits{MaxRejectRaw: 4}}, in: "a,b\n\"x\ny\",2,3\n", want: []want{{raw: "\"x\ny", cut: true}}},
		{name: "limit at the CR", opts: Options{Limits: format.Limits{MaxRejectRaw: 5}}, in: "a,b\n1,2,3\r\n", want: []want{{raw: "1,2,3"}}},
		{name: "limit before the CR", opts: Options{Limits: format.Limits{MaxRejectRaw: 4}}, in: "a,b\n1,2,3\r\n", want: []want{{raw: "1,2,", cut: true}}},
		{name: "limit before a content CR", opts: Options{Limits: format.Limits{MaxRejectRaw: 1}}, in: "a,b\n1\r2,3,4\n", want: []want{{raw: "1", cut: true}}},
		{name: "keep none", opts: Options{Limits: format.Limits{MaxRejectRaw: -1}}, in: "a,b\n1,2,3\n4,5\n", want: []want{{none: true}, ok}},
		{name: "record too long", opts: Options{Limits: format.Limits{MaxRecordBytes: 8}}, in: "a,b\n1,2,3,4,5,6\n7,8,9\n", want: []want{{none: true}, {raw: "7,8,9"}}},
		{name: "wide record cut", in: "a,b\n" + wide + "\n1,2\n", want: []want{{raw: wide[:4096], cut: true}, ok}},
		{name: "wide record whole", opts: Options{Limits: format.Limits{MaxRejectRaw: 1 << 20}}, in: "a,b\n" + wide + "\r\n", want: []want{{raw: wide}}},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/one byte %v", tt.name, oneByte), func(t *testing.T) {
				var r io.Reader = strings.NewReader(tt.in)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				got, err := readAll(t, NewReader(r, tt.opts))
				if err != nil || len(got) != len(tt.want) {
					t.Fatalf("%d records, error %v; want %d", len(got), err, len(tt.want))
				}
				for i, w := range tt.want {
					g := got[i]
					formattest.CheckRaw(t, tt.opts.Limits, g)
					switch {
					case w.ok:
						if g.Reject != nil || g.Raw != nil || g.RawTruncated {
							t.Errorf("record %d: reject %v, Raw %q; want accepted without Raw", i, g.Reject, g.Raw)
						}
					case g.Reject == nil:
						t.Errorf("record %d accepted", i)
					case w.none:
						if g.Raw != nil || g.RawTruncated {
							t.Errorf("record %d: Raw %q, want none", i, g.Raw)
						}
					case g.Raw == nil || string(g.Raw) != w.raw || g.RawTruncated != w.cut:
						t.Errorf("record %d: Raw %q (truncated %v), want %q (truncated %v)", i, clipRaw(g.Raw), g.RawTruncated, clipRaw([]byte(w.raw)), w.cut)
					}
				}
			})
		}
	}
}

func clipRaw(b []byte) string {
	if len(b) > 64 {
		return fmt.Sprintf("%q... (%d bytes)", b[:64], len(b))
	}
	return fmt.Sprintf("%q", b)
}
