package format_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/cef"
	"github.com/heimdallhub/heimdall/internal/format/eve"
	"github.com/heimdallhub/heimdall/internal/format/leef"
	"github.com/heimdallhub/heimdall/internal/format/ndjson"
	"github.com/heimdallhub/heimdall/internal/format/zeek"
)

// A rejected record carries a copy of its bytes (for the PII policy to
// seal); accepted records carry none; long ones are cut.
func TestRejectsCarryRawBytes(t *testing.T) {
	zeekHead := "#separator \\x09\n#fields\ta\tb\n#types\tstring\tcount\n"
	for _, tc := range []struct {
		name, input, bad string
		open             func(io.Reader, format.Limits) format.Reader
	}{
		{"ndjson", `{"a":1}` + "\n", `{"a": "secret@example.org", broken`, ndjson.NewReader},
		{"eve", `{"event_type":"flow","src_ip":"192.0.2.1"}` + "\n", `{"event_type": "flow", "x": "secret@example.org"`, eve.NewReader},
		{"cef", "CEF:0|V|P|1|1|n|3|src=192.0.2.1\n", "CEF:0|broken secret@example.org", cef.NewReader},
		{"leef", "LEEF:1.0|V|P|1|e|src=192.0.2.1\n", "LEEF:9|secret@example.org", leef.NewReader},
		{"zeek", zeekHead + "x\t1\n", "secret@example.org\tnot-a-count", func(r io.Reader, l format.Limits) format.Reader { return zeek.NewReader(r, l) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			long := tc.bad + strings.Repeat(" ", 100)
			recs := read(t, tc.open(strings.NewReader(tc.input+tc.bad+"\n"+long+"\n"), format.Limits{MaxRejectRaw: len(tc.bad) + 10}))
			if len(recs) != 3 {
				t.Fatalf("%d records", len(recs))
			}
			if recs[0].Reject != nil || recs[0].Raw != nil {
				t.Fatalf("accepted record: %+v", recs[0])
			}
			if recs[1].Reject == nil || string(recs[1].Raw) != tc.bad || recs[1].RawTruncated {
				t.Fatalf("rejected record raw %q (truncated %v), want %q", recs[1].Raw, recs[1].RawTruncated, tc.bad)
			}
			if recs[2].Reject == nil || string(recs[2].Raw) != long[:len(tc.bad)+10] || !recs[2].RawTruncated {
				t.Fatalf("long rejected record raw %q (truncated %v)", recs[2].Raw, recs[2].RawTruncated)
			}
			if strings.Contains(recs[1].Reject.Reason, "secret@example.org") {
				t.Fatal("reason echoes the input")
			}
		})
	}
	// MaxRejectRaw < 0 keeps nothing.
	recs := read(t, ndjson.NewReader(strings.NewReader("nope\n"), format.Limits{MaxRejectRaw: -1}))
	if recs[0].Reject == nil || recs[0].Raw != nil {
		t.Fatalf("%+v", recs[0])
	}
}

func read(t *testing.T, r format.Reader) []format.Record {
	t.Helper()
	var out []format.Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
}
