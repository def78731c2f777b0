package lineio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/heimdallhub/heimdall/internal/format"
)

// want is the expected outcome of one line; data "" with tooLong unset
// means an empty line.
type want struct {
	num, off int64
	data     string
	tooLong  bool
	blank    bool
}

func (w want) String() string {
	return fmt.Sprintf("{%d %d %q tooLong=%v blank=%v}", w.num, w.off, w.data, w.tooLong, w.blank)
}

// readAll reads rd to the end and returns its lines (Data copied) and the
// final error (nil for io.EOF), checking errors are sticky.
func readAll(t testing.TB, rd *Reader) ([]want, error) {
	t.Helper()
	var out []want
	for {
		ln, err := rd.Next()
		if err != nil {
			if _, err2 := rd.Next(); err2 != err {
				t.Fatalf("error not sticky: %v then %v", err, err2)
			}
			if err == io.EOF {
				return out, nil
			}
			return out, err
		}
		if ln.TooLong && ln.Data != nil {
			t.Fatalf("line %d: TooLong with Data %q", ln.Number, ln.Data)
		}
		if !ln.TooLong && ln.Data == nil {
			t.Fatalf("line %d: nil Data", ln.Number)
		}
		out = append(out, want{ln.Number, ln.Offset, string(ln.Data), ln.TooLong, ln.Blank})
		if cap(rd.buf) > rd.max+2 {
			t.Fatalf("line buffer of %d bytes for a limit of %d", cap(rd.buf), rd.max)
		}
	}
}

func TestReader(t *testing.T) {
	const long = 40
	tests := []struct {
		name      string
		in        string
		max       int
		space     string // "" for the default
		bomBefore bool
		want      []want
	}{
		{name: "empty", in: "", want: nil},
		{name: "lf", in: "ab\ncd\n", want: []want{{1, 0, "ab", false, false}, {2, 3, "cd", false, false}}},
		{name: "crlf", in: "ab\r\ncd\r\n", want: []want{{1, 0, "ab", false, false}, {2, 4, "cd", false, false}}},
		{name: "no final lf", in: "ab\ncd", want: []want{{1, 0, "ab", false, false}, {2, 3, "cd", false, false}}},
		{name: "cr alone is content", in: "a\rb\n\r\r\n\r", want: []want{{1, 0, "a\rb", false, false}, {2, 4, "\r", false, false}, {3, 7, "\r", false, false}}},
		{name: "empty and blank lines", in: "\n\r\n \t\n x\n",
			want: []want{{1, 0, "", false, true}, {2, 1, "", false, true}, {3, 3, " \t", false, true}, {4, 6, " x", false, false}}},
		{name: "cr is not blank by default", in: " \r \n", want: []want{{1, 0, " \r ", false, false}}},
		{name: "space set", in: " \r \n\v\n", space: " \t\r",
			want: []want{{1, 0, " \r ", false, true}, {2, 4, "\v", false, false}}},
		{name: "bom in line 1", in: "\xef\xbb\xbfab\ncd\n", want: []want{{1, 0, "ab", false, false}, {2, 6, "cd", false, false}}},
		{name: "bom before line 1", in: "\xef\xbb\xbfab\ncd\n", bomBefore: true, want: []want{{1, 3, "ab", false, false}, {2, 6, "cd", false, false}}},
		{name: "bom only at start", in: "ab\n\xef\xbb\xbfcd\n", bomBefore: true, want: []want{{1, 0, "ab", false, false}, {2, 3, "\xef\xbb\xbfcd", false, false}}},
		{name: "bom only", in: "\xef\xbb\xbf", want: []want{{1, 0, "", false, true}}},
		{name: "bom and crlf", in: "\xef\xbb\xbf\r\n", bomBefore: true, want: []want{{1, 3, "", false, true}}},
		{name: "partial bom", in: "\xef\xbbab\n", want: []want{{1, 0, "\xef\xbbab", false, false}}},
		{name: "limit", max: 4, in: "abcd\nabcde\nabcd\r\nabcde\r\nab",
			want: []want{{1, 0, "abcd", false, false}, {2, 5, "", true, false}, {3, 11, "abcd", false, false}, {4, 17, "", true, false}, {5, 24, "ab", false, false}}},
		{name: "limit without final lf", max: 4, in: "abcd\nabcde", want: []want{{1, 0, "abcd", false, false}, {2, 5, "", true, false}}},
		{name: "bom not counted", max: 4, in: "\xef\xbb\xbfabcd\r\nx\n", want: []want{{1, 0, "abcd", false, false}, {2, 9, "x", false, false}}},
		{name: "bom not counted either way", max: 4, in: "\xef\xbb\xbfabcde\n", want: []want{{1, 0, "", true, false}}},
		{name: "zero limit", max: 0, in: "\n\r\na\n", want: []want{{1, 0, "", false, true}, {2, 1, "", false, true}, {3, 3, "", true, false}}},
		{name: "long line across the buffer", max: 20, in: strings.Repeat("x", 100) + "\nab\n",
			want: []want{{1, 0, "", true, false}, {2, 101, "ab", false, false}}},
		{name: "long blank line", max: 20, in: strings.Repeat(" ", long) + "\r\n" + strings.Repeat(" ", long) + "\n",
			want: []want{{1, 0, "", true, true}, {2, long + 2, "", true, true}}},
		{name: "long line, not blank at the end", max: 20, in: strings.Repeat(" ", long) + "x\n",
			want: []want{{1, 0, "", true, false}}},
		{name: "long blank line with a cr inside", max: 20, in: strings.Repeat(" ", long) + "\r " + "\n",
			want: []want{{1, 0, "", true, false}}},
		{name: "long blank line with a cr inside, cr is space", max: 20, space: " \r", in: strings.Repeat(" ", long) + "\r " + "\n",
			want: []want{{1, 0, "", true, true}}},
		{name: "long blank line ending in cr at eof", max: 20, in: strings.Repeat(" ", long) + "\r",
			want: []want{{1, 0, "", true, false}}},
		{name: "long blank line after a bom", max: 20, in: "\xef\xbb\xbf" + strings.Repeat(" ", long) + "\nx",
			want: []want{{1, 0, "", true, true}, {2, long + 4, "x", false, false}}},
		{name: "default limit buffer", max: 1 << 20, in: strings.Repeat("y", 200<<10) + "\nab",
			want: []want{{1, 0, strings.Repeat("y", 200<<10), false, false}, {2, 200<<10 + 1, "ab", false, false}}},
	}
	for _, tt := range tests {
		for _, feed := range []string{"whole", "bytewise"} {
			t.Run(tt.name+"/"+feed, func(t *testing.T) {
				var r io.Reader = strings.NewReader(tt.in)
				if feed == "bytewise" {
					r = iotest.OneByteReader(r)
				}
				max := tt.max
				if max == 0 && !strings.Contains(tt.name, "zero") {
					max = 64
				}
				rd := New(r, max)
				if tt.space != "" {
					rd.Space = tt.space
				}
				rd.BOMBeforeFirstLine = tt.bomBefore
				got, err := readAll(t, rd)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Fatalf("got  %v\nwant %v", got, tt.want)
				}
			})
		}
	}
}

// TestReaderChunkBoundaries runs every small line shape through small
// limits, so that CR, LF and the byte order mark fall on and around the
// bufio.Reader's buffer boundaries, and compares with the reference.
func TestReaderChunkBoundaries(t *testing.T) {
	for max := 0; max <= 40; max++ {
		for n := 0; n <= 60; n++ {
			for _, fill := range []string{" ", "x"} {
				for _, end := range []string{"", "\n", "\r", "\r\n", "\r\r\n"} {
					for _, lead := range []string{"", bom} {
						in := []byte(lead + strings.Repeat(fill, n) + end + "z\n")
						check(t, in, max, " \t", false, 0, 0)
					}
				}
			}
		}
	}
}

// refLine is one line the simple way.
type refLine struct {
	num, off int64
	content  []byte
}

// reference splits in the documented way, without any limit.
func reference(in []byte, bomBefore bool) []refLine {
	var out []refLine
	off := 0
	for n := int64(1); off < len(in); n++ {
		raw, _, found := bytes.Cut(in[off:], []byte("\n"))
		content, start := raw, off
		if found {
			content = bytes.TrimSuffix(raw, []byte("\r"))
		}
		if n == 1 && bytes.HasPrefix(content, []byte(bom)) {
			content = content[len(bom):]
			if bomBefore {
				start += len(bom)
			}
		}
		out = append(out, refLine{n, int64(start), content})
		off += len(raw)
		if found {
			off++
		}
	}
	return out
}

// check reads in with limit max and compares each line with the
// reference. With 0 < failAt <= len(in) the input fails with a plain error
// instead of ending after failAt bytes: the lines completed before are
// returned, then a read_error Failure. With chunk > 0 every Read returns at
// most chunk bytes.
func check(t *testing.T, in []byte, max int, space string, bomBefore bool, chunk, failAt int) {
	t.Helper()
	boom := errors.New("boom")
	var r io.Reader = bytes.NewReader(in)
	fail := failAt > 0 && failAt <= len(in)
	if fail {
		r = &failReader{r: bytes.NewReader(in[:failAt]), err: boom}
	}
	if chunk > 0 {
		r = &chunkReader{r: r, n: chunk}
	}
	rd := New(r, max)
	rd.Space, rd.BOMBeforeFirstLine = space, bomBefore
	got, err := readAll(t, rd)
	ref := reference(in, bomBefore)
	if fail {
		var f *format.Failure
		if !errors.As(err, &f) || f.Code != "read_error" || !errors.Is(err, boom) {
			t.Fatalf("%q max %d failing at %d: error %v, want a read_error Failure", in, max, failAt, err)
		}
		ref = reference(in[:failAt], bomBefore)
		if len(ref) > 0 && in[failAt-1] != '\n' {
			ref = ref[:len(ref)-1] // the line the error interrupts
		}
	} else if err != nil {
		t.Fatalf("%q max %d: %v", in, max, err)
	}
	if len(got) != len(ref) {
		t.Fatalf("%q max %d: %d lines, want %d", in, max, len(got), len(ref))
	}
	for i, w := range ref {
		g := got[i]
		tooLong := len(w.content) > max
		blank := len(bytes.Trim(w.content, space)) == 0
		if g.num != w.num || g.off != w.off || g.tooLong != tooLong || g.blank != blank || (!tooLong && g.data != string(w.content)) {
			t.Fatalf("%q max %d: line %d is %v, want %d at %d %q too long %v blank %v", in, max, i+1, g, w.num, w.off, w.content, tooLong, blank)
		}
	}
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), c.n)])
}

// failReader reads r, then returns err instead of io.EOF; reads counts
// its Read calls.
type failReader struct {
	r     io.Reader
	err   error
	reads int
}

func (f *failReader) Read(p []byte) (int, error) {
	f.reads++
	n, err := f.r.Read(p)
	if err == io.EOF {
		err = f.err
	}
	return n, err
}

func TestReaderErrors(t *testing.T) {
	truncated := format.Failf("truncated", io.EOF, "the stream ends early")
	tests := []struct {
		name     string
		err      error // what the input returns instead of io.EOF
		wantSame bool  // Next returns err itself
		want     []want
	}{
		{name: "failure", err: format.Failf("too_large", nil, "too large"), wantSame: true},
		// A Failure wrapping io.EOF is a failure, not the end of input.
		{name: "failure wrapping io.EOF", err: truncated, wantSame: true},
		{name: "wrapped failure", err: fmt.Errorf("outer: %w", truncated), wantSame: true},
		// io.Reader must return io.EOF itself: a wrapped one is an error.
		{name: "wrapped io.EOF", err: fmt.Errorf("gzip: %w", io.EOF)},
		{name: "plain error", err: errors.New("connection reset")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fr := &failReader{r: strings.NewReader("a\nb\r\npartial"), err: tt.err}
			rd := New(fr, 64)
			got, err := readAll(t, rd)
			if fmt.Sprint(got) != fmt.Sprint([]want{{1, 0, "a", false, false}, {2, 2, "b", false, false}}) {
				t.Errorf("lines %v", got)
			}
			if tt.wantSame {
				if err != tt.err {
					t.Fatalf("error %v, want %v itself", err, tt.err)
				}
				return
			}
			var f *format.Failure
			if !errors.As(err, &f) || f.Code != "read_error" || f.Err != tt.err {
				t.Fatalf("error %#v, want a read_error Failure wrapping %v", err, tt.err)
			}
			if want := "reading the input failed at byte 12, after line 2"; f.Reason != want {
				t.Errorf("reason %q, want %q", f.Reason, want)
			}
		})
	}
}

// TestReaderEOFSticky checks that after io.EOF the input is not read again.
func TestReaderEOFSticky(t *testing.T) {
	fr := &failReader{r: strings.NewReader("a\n"), err: io.EOF}
	rd := New(fr, 64)
	if _, err := readAll(t, rd); err != nil {
		t.Fatal(err)
	}
	reads := fr.reads
	for range 3 {
		if _, err := rd.Next(); err != io.EOF {
			t.Fatalf("Next after the end: %v", err)
		}
	}
	if fr.reads != reads {
		t.Errorf("%d reads after io.EOF", fr.reads-reads)
	}
}

// repeatByte yields its byte forever.
type repeatByte byte

func (c repeatByte) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

// TestReaderHugeLine streams a 100 MiB line from a generator: it is one
// TooLong line (Blank computed all the way), the next line is intact, and
// memory stays bounded by the limit.
func TestReaderHugeLine(t *testing.T) {
	for _, c := range []byte{'y', ' '} {
		in := io.MultiReader(strings.NewReader("a\n"), io.LimitReader(repeatByte(c), 100<<20), strings.NewReader("\r\nb\n"))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		got, err := readAll(t, New(in, 1<<20))
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		want := []want{{1, 0, "a", false, false}, {2, 2, "", true, c == ' '}, {3, 2 + 100<<20 + 2, "b", false, false}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		if grown := after.TotalAlloc - before.TotalAlloc; grown > 4<<20 {
			t.Errorf("allocated %d bytes for a 100 MiB line; want bounded by the 1 MiB limit", grown)
		}
	}
}

func TestRaw(t *testing.T) {
	for _, tc := range []struct {
		data string
		max  int
		want string
		nil_ bool
		cut  bool
	}{
		{data: "abc", max: 4096, want: "abc"},
		{data: "abc", max: 3, want: "abc"},
		{data: "abcd", max: 3, want: "abc", cut: true},
		{data: "abc", max: 0, want: "", cut: true},
		{data: "", max: 4096, want: ""},
		{data: "abc", max: -1, nil_: true},
	} {
		data := []byte(tc.data)
		raw, cut := Raw(data, tc.max)
		if (raw == nil) != tc.nil_ || string(raw) != tc.want || cut != tc.cut {
			t.Errorf("Raw(%q, %d) = %q (nil %v), %v; want %q (nil %v), %v", tc.data, tc.max, raw, raw == nil, cut, tc.want, tc.nil_, tc.cut)
		}
		if len(raw) > 0 && &raw[0] == &data[0] {
			t.Errorf("Raw(%q, %d) shares the caller's buffer", tc.data, tc.max)
		}
	}
}
