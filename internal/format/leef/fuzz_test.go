package leef

import (
	"bytes"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
)

// FuzzLEEF checks, for any input, the invariant readAll verifies: the reader
// never panics; it ends with io.EOF or a sticky *format.Failure; records are
// located with Line >= 1 and Offset >= 0, both strictly increasing and
// Offset at the start of line Line; each record has Fields or a Reject;
// values are UTF-8 strings (syslog.priority a json.Number); every non-blank
// input line is a record or a reject; memory is bounded by the (small)
// limits. Accepted records always carry the five header fields.
func FuzzLEEF(f *testing.F) {
	lim := format.Limits{MaxLineBytes: 1024, MaxFieldBytes: 128, MaxFields: 32}
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, _ := readAll(t, b, NewReader(bytes.NewReader(b), lim), isBlankLine)
		for _, r := range recs {
			if r.Reject != nil {
				continue
			}
			for _, h := range headerFields {
				if _, ok := r.Fields[h].(string); !ok {
					t.Fatalf("line %d: no %s", r.Line, h)
				}
			}
		}
	})
}
