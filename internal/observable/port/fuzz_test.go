package port

import (
	"strconv"
	"testing"

	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
)

// FuzzProtocol checks, for any input:
//   - Parse, Protocol and ProtocolNumber never panic;
//   - Parse round-trips: a parsed port formats to text that parses back to it;
//   - protocol canonicalisation is idempotent: Protocol(Protocol(x)) ==
//     Protocol(x), and the canonical name and the protocol number agree;
//   - error messages never carry the input.
func FuzzProtocol(f *testing.F) {
	f.Add("ICMPv6")
	f.Add("0443")
	f.Add("253")
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := Parse(s); err != nil {
			if msg := errcheck.Problem(err.Error(), s); msg != "" {
				t.Fatal(msg)
			}
		} else if q, err := Parse(strconv.Itoa(int(p))); err != nil || q != p {
			t.Fatalf("Parse round trip: %q -> %d -> %d, %v", s, p, q, err)
		}
		c, err := Protocol(s)
		if err != nil {
			if msg := errcheck.Problem(err.Error(), s); msg != "" {
				t.Fatal(msg)
			}
			return
		}
		if c2, err := Protocol(c); err != nil || c2 != c {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, c, c2, err)
		}
		n, err := ProtocolNumber(s)
		if err != nil {
			t.Fatalf("ProtocolNumber(%q) failed after Protocol succeeded: %v", s, err)
		}
		if c3, err := Protocol(strconv.Itoa(int(n))); err != nil || c3 != c {
			t.Fatalf("name/number disagree: %q -> %q, %d -> %q", s, c, n, c3)
		}
	})
}
