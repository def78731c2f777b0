package ipaddr

import (
	"testing"

	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
)

// FuzzParse checks, for any input:
//   - Parse and Canonical never panic;
//   - a parsed address has no zone and is never IPv4-mapped;
//   - canonicalisation is idempotent: Canonical(Canonical(x)) == Canonical(x),
//     and the canonical text parses back to the same address/prefix;
//   - error messages never carry the input.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "::ffff:1.2.3.4", "[fe80::1%eth0]", "010.1.1.1", "2001:db8::/32", "::ffff:1.2.3.0/120"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			if p := errcheck.Problem(err.Error(), s); p != "" {
				t.Fatal(p)
			}
		} else if a.Zone() != "" || a.Is4In6() || !a.IsValid() {
			t.Fatalf("Parse(%q) = %v: zone, mapping or invalid", s, a)
		}
		c, err := Canonical(s)
		if err != nil {
			if p := errcheck.Problem(err.Error(), s); p != "" {
				t.Fatal(p)
			}
			return
		}
		c2, err := Canonical(c)
		if err != nil {
			t.Fatalf("Canonical(%q) = %q, which is rejected: %v", s, c, err)
		}
		if c2 != c {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, c, c2)
		}
	})
}
