package ingest

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/format/formatgen"
)

// BenchmarkIngestFormats measures the ingest command per format without the
// broker: decompression check, parsing, profile mapping, canonicalisation,
// keys and Avro encoding (the log discards).
func BenchmarkIngestFormats(b *testing.B) {
	const n = 20000
	inputs := formatgen.Connections(n)
	codec, _ := events.NewCodec()
	for _, name := range formatgen.Formats {
		data := inputs[name]
		b.Run(name, func(b *testing.B) {
			h, err := New(discardLog{}, codec, Options{PeerID: "bench", EventsTopic: "ev", RejectsTopic: "rej"})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := h.Handle(context.Background(), Command{Body: bytes.NewReader(data), Actor: events.Actor{Subject: "s"},
					RequestID: "r", BatchID: fmt.Sprint("b", i)})
				if err != nil || res.Accepted != n {
					b.Fatalf("%v %+v", err, res.Rejects)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
