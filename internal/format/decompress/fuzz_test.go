package decompress

import (
	"bytes"
	"io"
	"testing"

	"github.com/heimdallhub/heimdall/internal/format"
)

// FuzzOpen feeds arbitrary bodies, declared as each encoding, and
// round-trips the input through gzip and zstd.
//
// Invariant: Open and Read never panic; every error other than io.EOF is a
// *format.Failure; the output never exceeds MaxDecompressedBytes; a body
// read to io.EOF without a failure, when declared or detected as
// compressed, decompresses to what was compressed (round trip); an
// identity body reads back unchanged.
func FuzzOpen(f *testing.F) {
	encs := []string{"", "identity", "gzip", "zstd", "x-gzip", "br"}
	f.Fuzz(func(t *testing.T, body []byte, encSel uint8) {
		lim := Limits{MaxDecompressedBytes: 1 << 20, MaxRatio: 50, RatioMinBytes: 64 << 10, MaxDecoderMemory: 1 << 20}
		enc := encs[int(encSel)%len(encs)]
		out, detected, err := readAllFrom(bytes.NewReader(body), enc, lim)
		if err != nil && !format.IsFailure(err) {
			t.Fatalf("error %v is not a failure", err)
		}
		if int64(len(out)) > lim.MaxDecompressedBytes {
			t.Fatalf("%d bytes out", len(out))
		}
		if err == nil && detected == Identity && !bytes.Equal(out, body) {
			t.Fatalf("identity body changed")
		}
		// Round trip.
		for _, c := range []struct {
			name string
			data []byte
		}{{Gzip, gz(t, string(body))}, {Zstd, zst(t, nil, string(body))}} {
			out, detected, err := readAllFrom(bytes.NewReader(c.data), "", Limits{})
			if err != nil || detected != c.name || !bytes.Equal(out, body) {
				t.Fatalf("%s round trip: %d bytes, %q, %v", c.name, len(out), detected, err)
			}
		}
	})
}

var _ = io.EOF
