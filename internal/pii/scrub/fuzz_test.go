package scrub

import (
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"", "alice@example.com", "4111 1111 1111 1111", "+44 20 7946 0958",
	"DE89 3704 0044 0532 0130 00", "123-45-6789 AB 12 34 56 C 111222333 12345678Z",
	`C:\\Users\\dave\\x /home/alice/ %2Fhome%2Ferin%2F`, "192.168.1.10 2026-11-27T10:00:00Z 1.2.3.4",
	"(415) 555-2671x", "+", "(", "@@a@b.io.", "%3A%5CUsers%5C",
}

// checkSpans asserts the structural invariants: within bounds, non-empty,
// sorted and non-overlapping.
func checkSpans(t *testing.T, s string, spans []Span) {
	t.Helper()
	prev := 0
	for _, sp := range spans {
		if sp.Start < prev || sp.End <= sp.Start || sp.End > len(s) {
			t.Fatalf("bad span %+v (prev end %d, len %d) in %q", sp, prev, len(s), s)
		}
		prev = sp.End
	}
}

// FuzzFind: Find never panics; spans are in bounds, sorted and
// non-overlapping; every individual detector's output obeys the same.
func FuzzFind(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	sc := allOn(f)
	f.Fuzz(func(t *testing.T, s string) {
		checkSpans(t, s, sc.Find(s))
		checkSpans(t, s, FindEmails(s))
		checkSpans(t, s, FindPhones(s))
		checkSpans(t, s, FindCards(s, true))
		checkSpans(t, s, FindIBANs(s))
		checkSpans(t, s, FindUserPaths(s))
		for _, name := range NationalIDSchemes() {
			sp, _ := FindNationalIDs(s, name)
			checkSpans(t, s, sp)
		}
		_ = sc.ScrubURLQuery(s, nil)
	})
}

// FuzzReplace: Replace with the identity function returns the input;
// Replace with a placeholder equals the gaps joined by placeholders, and no
// detected substring survives unless it also occurs in the untouched text
// between spans (the NUL placeholder cannot join with neighbours to recreate
// a match because no detector matches control characters).
func FuzzReplace(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	sc := allOn(f)
	f.Fuzz(func(t *testing.T, s string) {
		if got := sc.Replace(s, func(_ Span, v string) string { return v }); got != s {
			t.Fatalf("identity Replace changed %q to %q", s, got)
		}
		spans := sc.Find(s)
		out := sc.Replace(s, func(Span, string) string { return "\x00" })
		var gaps []string
		prev := 0
		for _, sp := range spans {
			gaps = append(gaps, s[prev:sp.Start])
			prev = sp.End
		}
		gaps = append(gaps, s[prev:])
		if want := strings.Join(gaps, "\x00"); out != want {
			t.Fatalf("Replace(%q) = %q, want %q", s, out, want)
		}
		for _, sp := range spans {
			v := s[sp.Start:sp.End]
			if strings.Contains(v, "\x00") {
				t.Fatalf("span %+v contains NUL", sp)
			}
			inGap := false
			for _, g := range gaps {
				if strings.Contains(g, v) {
					inGap = true
					break
				}
			}
			if !inGap && strings.Contains(out, v) {
				t.Fatalf("detected %q survives in %q", v, out)
			}
		}
		def := sc.Replace(s, nil)
		if len(spans) == 0 && def != s {
			t.Fatalf("Replace without findings changed input")
		}
	})
}
