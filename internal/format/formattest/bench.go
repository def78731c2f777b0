package formattest

import (
	"bytes"
	"io"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
)

// Repeat returns rows written again and again until there are at least
// size bytes (rows must not be empty).
func Repeat(rows []byte, size int) []byte {
	var in bytes.Buffer
	for in.Len() < size {
		in.Write(rows)
	}
	return in.Bytes()
}

// BenchReader reads input with the reader newReader returns, b.N times,
// failing on any error but io.EOF and on any reject, and reports bytes/s,
// allocations and records/s.
func BenchReader(b *testing.B, input []byte, newReader func(io.Reader) format.Reader) {
	b.Helper()
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		rd := newReader(bytes.NewReader(input))
		for {
			rec, err := rd.Next()
			if err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
			if rec.Reject != nil {
				b.Fatalf("line %d: %v", rec.Line, rec.Reject)
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
