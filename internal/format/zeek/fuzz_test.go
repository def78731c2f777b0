package zeek

import (
	"bytes"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
)

// fuzzLimits are small so that the fuzzer reaches the limits.
var fuzzLimits = format.Limits{MaxLineBytes: 512, MaxFieldBytes: 64, MaxFields: 16, MaxDepth: 8}

// FuzzTSV checks, for any input, the invariant readAll verifies: the reader
// never panics; it ends with io.EOF or a sticky *format.Failure; records are
// located with Line >= 1 and Offset >= 0, both strictly increasing and
// Offset at the start of line Line; each record has Fields or a Reject;
// field values are of the documented types (strings UTF-8, numbers valid
// JSON); every input line is a record, a reject, or a header/comment line
// ('#') or blank line; memory is bounded by the limits (lines over
// MaxLineBytes are line_too_long rejects).
func FuzzTSV(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		readAll(t, b, NewReader(bytes.NewReader(b), fuzzLimits), tsvSkip)
	})
}

// FuzzJSON checks the same invariant for the Zeek JSON reader, whose
// documented skips are blank lines and the btest banner.
func FuzzJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		readAll(t, b, NewJSONReader(bytes.NewReader(b), fuzzLimits), jsonSkip)
	})
}
