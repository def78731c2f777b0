package urlnorm

import (
	"strings"
	"testing"

	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
)

// FuzzCanonical checks, for any input:
//   - Canonical and Host never panic;
//   - canonicalisation is idempotent: Canonical(Canonical(x)) == Canonical(x);
//   - the output is always valid: printable ASCII only, no fragment, at most
//     MaxLength octets, no '%' that does not start an upper-case escape, and
//     Host(x) == Host(Canonical(x));
//   - error messages never carry the input.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{
		"HTTP://user:pw@Example.COM:80/a/./b/../%7e?q=1#f",
		"http://[fe80::1%25eth0]:8080/",
		"http://b%C3%BCcher.example/ü",
		"file:///C:/x/../y",
		"mailto:John@Example.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Canonical(s)
		if err != nil {
			if p := errcheck.Problem(err.Error(), s); p != "" {
				t.Fatal(p)
			}
			if h := Host(s); h != "" {
				t.Fatalf("Host(%q) = %q for an invalid URL", s, h)
			}
			return
		}
		if len(c) > MaxLength || strings.Contains(c, "#") {
			t.Fatalf("Canonical(%q) = %q: too long or has a fragment", s, c)
		}
		for i := 0; i < len(c); i++ {
			ch := c[i]
			if ch <= ' ' || ch >= 0x7f {
				t.Fatalf("Canonical(%q) = %q: non-printable or non-ASCII octet", s, c)
			}
			if ch == '%' && (i+2 >= len(c) || !strings.ContainsRune("0123456789ABCDEF", rune(c[i+1])) || !strings.ContainsRune("0123456789ABCDEF", rune(c[i+2]))) {
				t.Fatalf("Canonical(%q) = %q: bad escape", s, c)
			}
		}
		c2, err := Canonical(c)
		if err != nil || c2 != c {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, c, c2, err)
		}
		if h1, h2 := Host(s), Host(c); h1 != h2 {
			t.Fatalf("Host differs: %q -> %q, canonical %q -> %q", s, h1, c, h2)
		}
	})
}
