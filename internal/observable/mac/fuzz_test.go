package mac

import (
	"testing"

	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
)

// FuzzCanonical checks, for any input:
//   - Canonical never panics;
//   - the output is always valid: 6 or 8 lower-case two-digit hex octets
//     separated by ':';
//   - canonicalisation is idempotent: Canonical(Canonical(x)) == Canonical(x);
//   - error messages never carry the input.
func FuzzCanonical(f *testing.F) {
	f.Add("AA-BB-CC-DD-EE-FF")
	f.Add("aabb.ccdd.eeff")
	f.Add("0:1b:63:84:45:e6")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Canonical(s)
		if err != nil {
			if p := errcheck.Problem(err.Error(), s); p != "" {
				t.Fatal(p)
			}
			return
		}
		if len(c) != 17 && len(c) != 23 {
			t.Fatalf("Canonical(%q) = %q: wrong length", s, c)
		}
		for i := 0; i < len(c); i++ {
			ch := c[i]
			if i%3 == 2 {
				if ch != ':' {
					t.Fatalf("Canonical(%q) = %q: bad separator", s, c)
				}
			} else if !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f') {
				t.Fatalf("Canonical(%q) = %q: bad digit", s, c)
			}
		}
		if c2, err := Canonical(c); err != nil || c2 != c {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, c, c2, err)
		}
	})
}
