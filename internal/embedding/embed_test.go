package embedding

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// vecSum is the SHA-256 of the little-endian IEEE 754 bits of v.
func vecSum(v []float32) string {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func norm2(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// TestGolden pins the exact output of the scheme. If it fails after an
// intentional change to the features, weights, tables or hashing, bump
// schemeVersion (so stored vectors are recomputed) and update the sums.
func TestGolden(t *testing.T) {
	e := NewNGram(0)
	if got, want := e.Version(), "ngram-v1-d256"; got != want {
		t.Fatalf("Version() = %q, want %q", got, want)
	}
	for _, tc := range []struct{ kind, value, sum string }{
		{KindDomainName, "paypal.com", "0176dcce0a3dc7faeb9f4f2bf74854b0900b90444b6c975019f801a4a26d67ef"},
		{KindURL, "https://login.xn--pypal-4ve.co.uk/SignIn?x=1", "8c5338d0c1900f92441408f1348ed19650ca8746ca949740a6628a25847fdc26"},
	} {
		v := mustEmbed(t, e, tc.kind, tc.value)
		if got := vecSum(v); got != tc.sum {
			t.Errorf("Embed(%q, %q) checksum = %s, want %s: the scheme changed; bump schemeVersion and update the golden sums",
				tc.kind, tc.value, got, tc.sum)
		}
	}
}

func TestDeterministic(t *testing.T) {
	for _, dim := range []int{64, 256, 4096} {
		a, b := NewNGram(dim), NewNGram(dim)
		for _, v := range []string{"paypal.com", "xn--pypal-4ve.com", "a.b.c.example.co.uk", "bücher.de"} {
			x := mustEmbed(t, a, KindDomainName, v)
			y := mustEmbed(t, b, KindDomainName, v)
			z := mustEmbed(t, a, KindDomainName, v)
			if !slices.Equal(x, y) || !slices.Equal(x, z) {
				t.Errorf("d%d %q: vectors differ between calls", dim, v)
			}
		}
	}
	// Concurrent use gives the same result.
	e := NewNGram(256)
	want := mustEmbed(t, e, KindDomainName, "paypal.com")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				got, err := e.Embed(KindDomainName, "paypal.com")
				if err != nil || !slices.Equal(got, want) {
					t.Error("concurrent Embed differs")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestUnitNorm(t *testing.T) {
	inputs := []struct{ kind, value string }{
		{KindDomainName, "a.com"},
		{KindDomainName, "x"},
		{KindDomainName, "com"},
		{KindDomainName, "co.uk"},
		{KindDomainName, "-.com"},
		{KindDomainName, "_dmarc.example.com"},
		{KindDomainName, "www.example.com"},
		{KindDomainName, "PayPal.COM."},
		{KindDomainName, "bücher.example"},
		{KindDomainName, "почта.рф"},
		{KindDomainName, "例え.テスト"},
		{KindDomainName, strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + ".com"},
		{KindURL, "https://paypal.com/"},
		{KindURL, "https://user@paypal.com:8443/a/b/c?q=1#frag"},
		{KindURL, "ftp://files.example.org/" + strings.Repeat("x/", 500)},
	}
	for _, dim := range []int{64, 256, 4096} {
		e := NewNGram(dim)
		for _, in := range inputs {
			v := mustEmbed(t, e, in.kind, in.value)
			if len(v) != dim {
				t.Errorf("len = %d, want %d", len(v), dim)
			}
			if n := norm2(v); math.Abs(n-1) > 1e-5 {
				t.Errorf("d%d %s %q: norm %v", dim, in.kind, in.value, n)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	e := NewNGram(0)
	for _, tc := range []struct {
		kind, value string
		want        error
	}{
		{KindDomainName, "", ErrInvalid},
		{KindDomainName, "   ", ErrInvalid},
		{KindDomainName, "a..b", ErrInvalid},
		{KindDomainName, "exa mple.com", ErrInvalid},
		{KindDomainName, "1.2.3.4", ErrInvalid},
		{KindDomainName, "xn--zz.com", ErrInvalid},
		{KindDomainName, strings.Repeat("a", 64) + ".com", ErrInvalid},
		{KindURL, "", ErrInvalid},
		{KindURL, "paypal.com/login", ErrInvalid},
		{KindURL, "https://", ErrInvalid},
		{KindURL, "https://10.0.0.1/login", ErrNoDomain},
		{KindURL, "http://[2001:db8::1]/", ErrNoDomain},
		{KindURL, "mailto:someone@paypal.com", ErrNoDomain},
		{KindURL, "file:///etc/passwd", ErrNoDomain},
		{"ipv4-addr", "10.0.0.1", ErrUnsupportedKind},
		{"email-addr", "a@paypal.com", ErrUnsupportedKind},
		{"", "paypal.com", ErrUnsupportedKind},
		{"Domain-Name", "paypal.com", ErrUnsupportedKind},
	} {
		v, err := e.Embed(tc.kind, tc.value)
		if !errors.Is(err, tc.want) || v != nil {
			t.Errorf("Embed(%q, %q) = %v, %v; want error %v", tc.kind, tc.value, v != nil, err, tc.want)
			continue
		}
		if tc.value != "" && strings.Contains(err.Error(), tc.value) {
			t.Errorf("error %q quotes the input", err)
		}
	}
}

func TestNewNGramDims(t *testing.T) {
	for _, d := range []int{64, 128, 256, 512, 1024, 2048, 4096} {
		if e := NewNGram(d); e.Dim() != d || !strings.HasSuffix(e.Version(), "-d"+strconv.Itoa(d)) {
			t.Errorf("NewNGram(%d): Dim %d Version %q", d, e.Dim(), e.Version())
		}
	}
	if NewNGram(0).Dim() != DefaultDim {
		t.Error("NewNGram(0) is not DefaultDim")
	}
	for _, d := range []int{-256, 1, 32, 100, 255, 300, 8192} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewNGram(%d) did not panic", d)
				}
			}()
			NewNGram(d)
		}()
	}
}

func TestSkeleton(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"paypal", "paypal"},
		{"paypa1", "paypal"},
		{"pаypal", "paypal"}, // Cyrillic а
		{"раураl", "paypal"}, // Cyrillic р, а, у
		{"ρaypal", "paypal"}, // Greek rho
		{"paypál", "paypal"}, // diacritic dropped
		{"rnicrosoft", "microsoft"},
		{"micros0ft", "microsoft"},
		{"vvikipedia", "wikipedia"},
		{"ԁеӏӏ", "dell"},
		{"ɡооɡӏе", "google"},
		{"ѕtеаm", "steam"},
		{"ναlve", "valve"}, // Greek nu, alpha
		{"і", "i"},
		{"0134570", "oleasto"},
		{"łódź", "lodz"},
		{"rrn", "rm"},
		{"vvv", "wv"},
		{"a-b_c", "a-b_c"},
		{"", ""},
	} {
		if got := string(skeleton(nil, tc.in)); got != tc.want {
			t.Errorf("skeleton(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct{ in, sub, label, suffix string }{
		{"paypal.com", "", "paypal", "com"},
		{"www.paypal.com", "www", "paypal", "com"},
		{"a.b.paypal.co.uk", "a.b", "paypal", "co.uk"},
		{"paypal.github.io", "", "paypal", "github.io"},
		{"com", "", "com", ""},
		{"co.uk", "", "co", "uk"},
		{"localhost", "", "localhost", ""},
		{"example.unknowntld", "", "example", "unknowntld"},
	} {
		s, l, x := split(tc.in)
		if s != tc.sub || l != tc.label || x != tc.suffix {
			t.Errorf("split(%q) = %q, %q, %q; want %q, %q, %q", tc.in, s, l, x, tc.sub, tc.label, tc.suffix)
		}
	}
}

// TestEquivalences checks spellings that must give identical vectors, and
// properties of the URL and subdomain features.
func TestEquivalences(t *testing.T) {
	e := NewNGram(0)
	dom := func(v string) []float32 { return mustEmbed(t, e, KindDomainName, v) }
	url := func(v string) []float32 { return mustEmbed(t, e, KindURL, v) }
	same := func(name string, a, b []float32) {
		t.Helper()
		if !slices.Equal(a, b) {
			t.Errorf("%s: vectors differ (cosine %.6f)", name, Cosine(a, b))
		}
	}
	same("A-label = U-label", dom("xn--pypal-4ve.com"), dom("pаypal.com"))
	same("case and trailing dot", dom("PayPal.Com."), dom("paypal.com"))
	same("leading www dropped", dom("www.paypal.com"), dom("paypal.com"))
	same("URL with empty path = its host", url("https://PayPal.com:443/#x"), dom("paypal.com"))
	same("query ignored", url("https://paypal.com/login?a=1"), url("https://paypal.com/login?b=2"))
	same("path case", url("https://paypal.com/LOGIN"), url("https://paypal.com/login"))

	seed := dom("paypal.com")
	withPath := Cosine(seed, url("https://paypal.com/signin/webapps/auth"))
	if withPath < 0.9 || withPath >= 1 {
		t.Errorf("path weight: cosine(domain, same host + path) = %.4f, want in [0.9, 1)", withPath)
	}
	// A brand in a subdomain is closer than an unrelated name.
	combo := Cosine(seed, dom("paypal.com.account-verify.net"))
	other := Cosine(seed, dom("www.account-verify.net"))
	if combo <= other {
		t.Errorf("subdomain brand: %.4f <= %.4f", combo, other)
	}
	t.Logf("path %.4f, subdomain brand %.4f vs %.4f", withPath, combo, other)
}
