package email

import (
	"strings"
	"testing"

	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
)

// FuzzCanonical checks, for any input:
//   - Canonical never panics;
//   - canonicalisation is idempotent: Canonical(Canonical(x)) == Canonical(x);
//   - the output is valid: at most 254 octets, and Domain returns exactly
//     the part after the last '@';
//   - error messages never carry the input (in particular, never the
//     address, which is personal data).
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"John.Doe@Example.COM.", `"a b"@example.com`, "user@[IPv6:2001:DB8::1]", "josé@bücher.example"} {
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
		if len(c) > maxAddress {
			t.Fatalf("Canonical(%q) = %q: too long", s, c)
		}
		c2, err := Canonical(c)
		if err != nil || c2 != c {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, c, c2, err)
		}
		d, err := Domain(s)
		if err != nil || !strings.HasSuffix(c, "@"+d) {
			t.Fatalf("Domain(%q) = %q, %v; canonical %q", s, d, err, c)
		}
	})
}
