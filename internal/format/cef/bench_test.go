package cef

import (
	"bytes"
	"io"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
)

// BenchmarkCEF parses ~10 MB of CEF: the Check Point lines and a typical
// syslog-prefixed event, repeated.
func BenchmarkCEF(b *testing.B) {
	rows := append(fixture(b, "checkpoint.log"), []byte("<134>Nov 20 08:15:02 fw01 "+ev+"\n")...)
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
