package domain

import (
	"testing"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// TestProfileDivergenceFromLookup pins what this package accepts beyond
// idna.Lookup, code point by code point over all of Unicode: only the six
// compatibility forms of '_' (accepted, mapped to '_'). U+2260, U+226E and
// U+226F would be the other three; Canonical rejects them explicitly. If an
// x/net update changes this set, the package documentation must be revisited.
func TestProfileDivergenceFromLookup(t *testing.T) {
	if testing.Short() {
		t.Skip("scans all of Unicode")
	}
	want := map[rune]bool{0xFE33: true, 0xFE34: true, 0xFE4D: true, 0xFE4E: true, 0xFE4F: true, 0xFF3F: true}
	got := map[rune]bool{}
	for r := rune(0x80); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		in := "a" + string(r) + "b.com"
		if _, err := Canonical(in); err != nil {
			continue
		}
		if _, err := idna.Lookup.ToASCII(in); err == nil {
			continue
		}
		got[r] = true
	}
	for r := range got {
		if !want[r] {
			t.Errorf("U+%04X accepted by Canonical but rejected by idna.Lookup", r)
		}
	}
	for r := range want {
		if !got[r] {
			t.Errorf("U+%04X no longer accepted", r)
		}
	}
}
