package leef

import (
	"io"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
	"github.com/heimdallhub/heimdall/internal/format/formattest"
)

// BenchmarkLEEF parses ~10 MB of LEEF 1.0 and 2.0 (the samples repeated).
func BenchmarkLEEF(b *testing.B) {
	formattest.BenchReader(b, formattest.Repeat(fixture(b, "leef-samples.log"), 10<<20), func(r io.Reader) format.Reader { return NewReader(r, format.Limits{}) })
}
