package eve

import (
	"bytes"
	"io"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
)

// BenchmarkEVE parses ~10 MB of EVE JSON: the fixtures (alert, dns v2/v3,
// http, tls, flow, fileinfo, stats, anomaly) repeated.
func BenchmarkEVE(b *testing.B) {
	rows := append(append(fixture(b, "eve-mixed.json"), fixture(b, "ctu-flow.json")...), fixture(b, "ctu-fileinfo.json")...)
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
