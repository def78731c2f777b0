package cef

import (
	"testing"

	"github.com/heimdallhub/heimdall/internal/format/formattest"
)

// FuzzCEF checks, for any input, the invariant formattest.CheckReader
// verifies: the reader never panics; it ends with io.EOF or a sticky
// *format.Failure; records are located with Line >= 1 and Offset >= 0, both
// strictly increasing and Offset at the start of line Line; each record has
// Fields or a Reject; values are UTF-8 strings (syslog.priority a
// json.Number); every non-blank input line is a record or a reject; a
// rejected record (but a line_too_long one) carries its line in Raw, at most
// MaxRejectRaw bytes of it (CheckRaw) and the whole line unless
// RawTruncated, and an accepted one has no Raw; memory is bounded by the
// (small) limits. Accepted records always carry the seven header fields
// (contract.Record).
func FuzzCEF(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		formattest.CheckInput(t, contract, b)
	})
}
