package cef

import (
	"io"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/formattest"
)

// BenchmarkCEF parses ~10 MB of CEF: the Check Point lines and a typical
// syslog-prefixed event, repeated.
func BenchmarkCEF(b *testing.B) {
	rows := append(fixture(b, "checkpoint.log"), []byte("<134>Nov 20 08:15:02 fw01 "+ev+"\n")...)
	formattest.BenchReader(b, formattest.Repeat(rows, 10<<20), func(r io.Reader) format.Reader { return NewReader(r, format.Limits{}) })
}
