package leef

import (
	"bytes"
	"io"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
)

// BenchmarkLEEF parses ~10 MB of LEEF 1.0 and 2.0 (the samples repeated).
func BenchmarkLEEF(b *testing.B) {
	rows := fixture(b, "leef-samples.log")
	var in bytes.Buffer
	for in.Len() < 10<<20 {
		in.Write(rows)
	}
	input := in.Bytes()
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		rd := NewReader(bytes.NewReader(input), format.Limits{})
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
