package eve

import (
	"io"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/formattest"
)

// BenchmarkEVE parses ~10 MB of EVE JSON: the fixtures (alert, dns v2/v3,
// http, tls, flow, fileinfo, stats, anomaly) repeated.
func BenchmarkEVE(b *testing.B) {
	rows := append(append(fixture(b, "eve-mixed.json"), fixture(b, "ctu-flow.json")...), fixture(b, "ctu-fileinfo.json")...)
	formattest.BenchReader(b, formattest.Repeat(rows, 10<<20), func(r io.Reader) format.Reader { return NewReader(r, format.Limits{}) })
}
