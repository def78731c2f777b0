package domain

import (
	"testing"

	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
)

// FuzzCanonical checks, for any input:
//   - Canonical and Registrable never panic;
//   - canonicalisation is idempotent: Canonical(Canonical(x)) == Canonical(x);
//   - the output is always valid: ASCII a-z 0-9 '-' '_' and dots, labels of
//     1..63 octets, at most 253 octets, last label not numeric;
//   - a registrable domain is itself canonical and a suffix of the name;
//   - error messages never carry the input.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"ExAmple.COM.", "bücher.example", "_dmarc.example.com", "xn--fa-hia.de", "a..b", "1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Canonical(s)
		if err != nil {
			if p := errcheck.Problem(err.Error(), s); p != "" {
				t.Fatal(p)
			}
			return
		}
		if err := check(c); err != nil {
			t.Fatalf("Canonical(%q) = %q, which is invalid: %v", s, c, err)
		}
		c2, err := Canonical(c)
		if err != nil || c2 != c {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, c, c2, err)
		}
		r, err := Registrable(s)
		if err != nil {
			if p := errcheck.Problem(err.Error(), s); p != "" {
				t.Fatal(p)
			}
			return
		}
		if r2, err := Canonical(r); err != nil || r2 != r {
			t.Fatalf("Registrable(%q) = %q is not canonical", s, r)
		}
		if c != r && !(len(c) > len(r) && c[len(c)-len(r)-1:] == "."+r) {
			t.Fatalf("Registrable(%q) = %q is not a suffix of %q", s, r, c)
		}
	})
}
