package ingest

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/format/formatgen"
	"github.com/heimdallhub/heimdall/internal/pii/piitest"
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
			h, err := New(discardLog{}, codec, Options{PeerID: "bench", EventsTopic: "ev", RejectsTopic: "rej", PII: piitest.Engine(b, "")})
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

// policyFor returns a policy that keeps ports and protocols and applies
// rule to both addresses of a connection record.
func policyFor(rule string) string {
	return `
version: "2026-11-28.1"
levels: [UNCLASSIFIED, CONFIDENTIAL, SECRET, TOP SECRET]
default: {level: TOP SECRET, action: drop}
profiles:
  "*":
    fields:
      dst_port: {level: UNCLASSIFIED, action: keep}
      proto:    {level: UNCLASSIFIED, action: keep}
      src_ip:   ` + rule + `
      dst_ip:   ` + rule + `
`
}

// BenchmarkIngestPolicy measures what the PII policy costs end to end in
// the ingest command (NDJSON connections, two addresses per record, the log
// discards): the same input with both addresses kept, and with each action
// applied to both. Compare records/s with "keep" for the policy's share.
func BenchmarkIngestPolicy(b *testing.B) {
	const n = 20000
	data := formatgen.Connections(n)["ndjson"]
	codec, _ := events.NewCodec()
	for _, tc := range []struct{ name, rule string }{
		{"keep", "{level: UNCLASSIFIED, action: keep}"},
		{"drop", "{level: SECRET, action: drop}"},
		{"mask", "{level: SECRET, action: mask, mask: {ipv4_prefix: 24, ipv6_prefix: 48}}"},
		{"pseudonymise", "{level: SECRET, action: pseudonymise, kind: ip}"},
		{"encrypt", "{level: SECRET, action: encrypt}"},
		{"tokenise", "{level: SECRET, action: tokenise, kind: ip}"},
		{"scrub", "{level: CONFIDENTIAL, action: scrub}"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			eng := piitest.Engine(b, policyFor(tc.rule))
			h, err := New(discardLog{}, codec, Options{PeerID: "bench", EventsTopic: "ev", RejectsTopic: "rej", PII: eng})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := h.Handle(context.Background(), Command{Body: bytes.NewReader(data), Actor: events.Actor{Subject: "s"},
					RequestID: "r", BatchID: fmt.Sprint("b", i)})
				wantAccepted := int64(n)
				if tc.name == "drop" {
					wantAccepted = 0 // nothing left to observe: every record is rejected
				}
				if err != nil || res.Accepted != wantAccepted {
					b.Fatalf("%v %+v", err, res)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n)/float64(b.N), "ns/record")
		})
	}
}
