package leef

import (
	"io"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/formattest"
)

// contract describes the LEEF reader to the shared contract tests; FuzzLEEF
// checks the same. Accepted records always carry the five header fields.
var contract = formattest.Case{
	New:    func(r io.Reader, lim format.Limits) format.Reader { return NewReader(r, lim) },
	Limits: format.Limits{MaxLineBytes: 1024, MaxFieldBytes: 128, MaxFields: 32, MaxRejectRaw: 48},
	Record: func(t testing.TB, _ format.Limits, r format.Record) {
		if r.Reject != nil {
			return
		}
		for _, h := range headerFields {
			if _, ok := r.Fields[h].(string); !ok {
				t.Fatalf("line %d: no %s", r.Line, h)
			}
		}
	},
}

func TestContract(t *testing.T) {
	formattest.Contract(t, contract, formattest.Fixtures(t, "testdata/*.log"))
}

func TestRejectRaw(t *testing.T) {
	formattest.CheckRejectRaw(t, contract.New, formattest.RawInput{
		Good: "LEEF:1.0|Vendor|Product|1.0|login|src=192.0.2.1\tusrName=alice",
		Bad:  "LEEF:9|Vendor|Product|1.0|login|usrName=secret@example.org",
	})
}
