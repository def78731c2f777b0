package cef

import (
	"io"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/formattest"
)

// fuzzLimits are small so that the fuzzer reaches the limits.
var fuzzLimits = format.Limits{MaxLineBytes: 1024, MaxFieldBytes: 128, MaxFields: 32, MaxRejectRaw: 48}

// contract describes the CEF reader to the shared contract tests; FuzzCEF
// checks the same. Accepted records always carry the seven header fields
// and no more fields than the limit.
var contract = formattest.Case{
	New:    func(r io.Reader, lim format.Limits) format.Reader { return NewReader(r, lim) },
	Limits: fuzzLimits,
	Record: func(t testing.TB, lim format.Limits, r format.Record) {
		if r.Reject != nil {
			return
		}
		for _, h := range headerFields {
			if _, ok := r.Fields[h].(string); !ok {
				t.Fatalf("line %d: no %s", r.Line, h)
			}
		}
		if len(r.Fields) > lim.WithDefaults().MaxFields {
			t.Fatalf("line %d: %d fields", r.Line, len(r.Fields))
		}
	},
}

func TestContract(t *testing.T) {
	formattest.Contract(t, contract, formattest.Fixtures(t, "testdata/*.log"))
}

func TestRejectRaw(t *testing.T) {
	formattest.CheckRejectRaw(t, contract.New, formattest.RawInput{
		Good: "CEF:0|Vendor|Product|1.0|100|name|3|src=192.0.2.1 suser=alice",
		Bad:  "CEF:0|Vendor|Product|suser=secret@example.org",
	})
}
