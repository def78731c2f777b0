package zeek

import (
	"testing"

	"github.com/heimdallhub/heimdall/internal/format/formattest"
)

// FuzzTSV checks, for any input, the invariant formattest.CheckReader
// verifies: the reader never panics; it ends with io.EOF or a sticky
// *format.Failure; records are located with Line >= 1 and Offset >= 0, both
// strictly increasing and Offset at the start of line Line; each record has
// Fields or a Reject; field values are of the documented types (strings
// UTF-8, numbers valid JSON); every input line is a record, a reject, or a
// header/comment line ('#') or blank line; a rejected record (but a
// line_too_long one) carries its line in Raw, at most MaxRejectRaw bytes of
// it (CheckRaw) and the whole line unless RawTruncated, and an accepted one
// has no Raw; memory is bounded by the limits (lines over MaxLineBytes are
// line_too_long rejects).
func FuzzTSV(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		formattest.CheckInput(t, tsvContract, b)
	})
}

// FuzzJSON checks the same invariant for the Zeek JSON reader, whose
// documented skips are blank lines and the btest banner.
func FuzzJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		formattest.CheckInput(t, jsonContract, b)
	})
}
