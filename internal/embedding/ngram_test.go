package embedding

import (
	"testing"
)

var unrelated = []string{
	"example.org", "github.com", "wikipedia.org", "kernel.org", "bankofamerica.com",
	"microsoft.com", "amazon.com", "ebay.com", "google.com", "apple.com",
}

var rankingCases = []struct {
	seed       string
	lookalikes []string
}{
	{"paypal.com", []string{
		"paypa1.com", "pay-pal.com", "paypal.co", "paypall.com",
		"xn--pypal-4ve.com", // Cyrillic а
		"paypai.com", "peypal.com",
	}},
	{"microsoft.com", []string{"rnicrosoft.com", "micros0ft.com", "microsoft-support.com"}},
}

func mustEmbed(t testing.TB, e Embedder, kind, v string) []float32 {
	t.Helper()
	vec, err := e.Embed(kind, v)
	if err != nil {
		t.Fatalf("Embed(%q, %q): %v", kind, v, err)
	}
	return vec
}

// TestRanking checks that every look-alike of a seed is more similar to it
// than every unrelated domain, and logs the margin.
func TestRanking(t *testing.T) {
	for _, dim := range []int{64, 256, 1024} {
		e := NewNGram(dim)
		for _, tc := range rankingCases {
			seed := mustEmbed(t, e, KindDomainName, tc.seed)
			minLook, minName := 2.0, ""
			for _, l := range tc.lookalikes {
				s := Cosine(seed, mustEmbed(t, e, KindDomainName, l))
				t.Logf("d%d %s ~ %-22s %.4f", dim, tc.seed, l, s)
				if s < minLook {
					minLook, minName = s, l
				}
			}
			maxUnrel, maxName := -2.0, ""
			for _, u := range unrelated {
				if u == tc.seed {
					continue
				}
				s := Cosine(seed, mustEmbed(t, e, KindDomainName, u))
				t.Logf("d%d %s ~ %-22s %.4f (unrelated)", dim, tc.seed, u, s)
				if s > maxUnrel {
					maxUnrel, maxName = s, u
				}
			}
			t.Logf("d%d %s: min look-alike %.4f (%s), max unrelated %.4f (%s), margin %.4f",
				dim, tc.seed, minLook, minName, maxUnrel, maxName, minLook-maxUnrel)
			if minLook <= maxUnrel {
				t.Errorf("d%d %s: look-alike %s (%.4f) not above unrelated %s (%.4f)",
					dim, tc.seed, minName, minLook, maxName, maxUnrel)
			}
		}
	}
}

func BenchmarkEmbed(b *testing.B) {
	e := NewNGram(256)
	for _, bc := range []struct{ name, kind, value string }{
		{"ascii", KindDomainName, "login.paypal.com"},
		{"idn", KindDomainName, "xn--pypal-4ve.com"},
		{"url", KindURL, "https://login.paypal.com/signin/webapps?x=1"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Embed(bc.kind, bc.value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
