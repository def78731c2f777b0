package formattest

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
)

// bigLineReader yields a line of n bytes of 'a', then tail.
type bigLineReader struct {
	n    int
	tail []byte
}

func (b *bigLineReader) Read(p []byte) (int, error) {
	if b.n > 0 {
		k := min(len(p), b.n)
		for i := range p[:k] {
			p[i] = 'a'
		}
		b.n -= k
		return k, nil
	}
	if len(b.tail) == 0 {
		return 0, io.EOF
	}
	k := copy(p, b.tail)
	b.tail = b.tail[k:]
	return k, nil
}

// CheckLongLineBounded feeds prefix, a 64 MiB line and tail to newReader
// with a 4 KiB line limit and checks the long line is a line_too_long
// reject read in bounded memory. It returns the records.
func CheckLongLineBounded(t *testing.T, newReader func(io.Reader, format.Limits) format.Reader, prefix, tail []byte) []format.Record {
	t.Helper()
	const big = 64 << 20
	r := io.MultiReader(bytes.NewReader(prefix), &bigLineReader{n: big, tail: tail})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rd := newReader(r, format.Limits{MaxLineBytes: 4096})
	var recs []format.Record
	for {
		rec, err := rd.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("Next: %v", err)
			}
			break
		}
		recs = append(recs, rec)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Fatalf("reading a %d-byte line allocated %d bytes", big, grew)
	}
	found := false
	for _, r := range recs {
		if r.Reject != nil && r.Reject.Code == "line_too_long" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no line_too_long reject in %v", recs)
	}
	return recs
}
