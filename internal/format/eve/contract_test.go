package eve

import (
	"io"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/formattest"
)

// contract describes the EVE reader to the shared contract tests; FuzzEVE
// checks the same. Accepted records have a string event_type mirrored in
// Meta.
var contract = formattest.Case{
	New:    func(r io.Reader, lim format.Limits) format.Reader { return NewReader(r, lim) },
	Limits: format.Limits{MaxLineBytes: 1024, MaxFieldBytes: 128, MaxFields: 32, MaxDepth: 8, MaxRejectRaw: 48},
	Record: func(t testing.TB, _ format.Limits, r format.Record) {
		if r.Reject == nil && (r.Meta[MetaEventType] == "" || r.Meta[MetaEventType] != r.Fields["event_type"]) {
			t.Fatalf("line %d: meta %v", r.Line, r.Meta)
		}
	},
}

func TestContract(t *testing.T) {
	formattest.Contract(t, contract, formattest.Fixtures(t, "testdata/*.json"))
}

func TestRejectRaw(t *testing.T) {
	formattest.CheckRejectRaw(t, contract.New, formattest.RawInput{
		Good: `{"event_type":"flow","src_ip":"192.0.2.1"}`,
		Bad:  `{"event_type":"alert","user":"secret@example.org"`,
	})
}
