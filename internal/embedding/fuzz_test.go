package embedding

import (
	"math"
	"strings"
	"testing"
)

// FuzzEmbed checks, for any kind and value, that Embed never panics and
// returns either an error (which does not quote the value) or a finite unit
// vector of length Dim(), the same on a second call.
func FuzzEmbed(f *testing.F) {
	for _, s := range []string{
		"paypal.com", "xn--pypal-4ve.com", "pаypal.com", "www.a.b.co.uk", "-.com", "_x._tcp.example",
		"https://login.paypal.com/a/../b?c#d", "http://[::1]/", "mailto:x@y.z", "xn--", "a..b", "",
		"ftp://ex.com/%E2%82%AC", "\xff.com", "ǆ.example", "ℌ.example", "ﬁ.com",
	} {
		f.Add(KindDomainName, s)
		f.Add(KindURL, s)
	}
	e := NewNGram(64)
	f.Fuzz(func(t *testing.T, kind, value string) {
		v, err := e.Embed(kind, value)
		if err != nil {
			if v != nil {
				t.Fatal("vector and error")
			}
			if len(value) > 3 && strings.Contains(err.Error(), value) {
				t.Fatalf("error %q quotes the input", err)
			}
			return
		}
		if len(v) != e.Dim() {
			t.Fatalf("len %d", len(v))
		}
		var s float64
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("non-finite component %v", x)
			}
			s += float64(x) * float64(x)
		}
		if math.Abs(math.Sqrt(s)-1) > 1e-5 {
			t.Fatalf("norm %v", math.Sqrt(s))
		}
		w, err := e.Embed(kind, value)
		if err != nil || vecSum(w) != vecSum(v) {
			t.Fatal("not deterministic")
		}
	})
}
