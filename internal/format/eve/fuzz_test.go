package eve

import (
	"bytes"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
)

// FuzzEVE checks, for any input, the invariant readAll verifies: the reader
// never panics; it ends with io.EOF or a sticky *format.Failure; records are
// located with Line >= 1 and Offset >= 0, both strictly increasing and
// Offset at the start of line Line; each record has Fields (with a string
// event_type mirrored in Meta) or a Reject; values are of the documented
// types; every non-blank input line is a record or a reject; memory is
// bounded by the (small) limits.
func FuzzEVE(f *testing.F) {
	lim := format.Limits{MaxLineBytes: 1024, MaxFieldBytes: 128, MaxFields: 32, MaxDepth: 8}
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, _ := readAll(t, b, NewReader(bytes.NewReader(b), lim), isBlankLine)
		for _, r := range recs {
			if r.Reject == nil && (r.Meta[MetaEventType] == "" || r.Meta[MetaEventType] != r.Fields["event_type"]) {
				t.Fatalf("line %d: meta %v", r.Line, r.Meta)
			}
		}
	})
}
