package hash

import (
	"testing"

	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
)

// FuzzCanonical checks, for any input:
//   - Canonical never panics;
//   - the output is always valid: lower-case hex of exactly a.HexLen() digits;
//   - canonicalisation is idempotent: Canonical(string(a)+":"+h) == (a, h);
//   - error messages never carry the input.
func FuzzCanonical(f *testing.F) {
	f.Add("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")
	f.Add("d41d8cd98f00b204e9800998ecf8427e")
	f.Add("DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09")
	f.Fuzz(func(t *testing.T, s string) {
		a, h, err := Canonical(s)
		if err != nil {
			if p := errcheck.Problem(err.Error(), s); p != "" {
				t.Fatal(p)
			}
			return
		}
		if len(h) != a.HexLen() || a.HexLen() == 0 {
			t.Fatalf("Canonical(%q) = %q, %q: wrong length", s, a, h)
		}
		for i := 0; i < len(h); i++ {
			if c := h[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				t.Fatalf("Canonical(%q) = %q: not lower-case hex", s, h)
			}
		}
		a2, h2, err := Canonical(string(a) + ":" + h)
		if err != nil || a2 != a || h2 != h {
			t.Fatalf("not idempotent: %q -> %q:%q -> %q:%q, %v", s, a, h, a2, h2, err)
		}
	})
}
