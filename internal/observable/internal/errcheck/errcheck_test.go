package errcheck

import "testing"

func TestProblem(t *testing.T) {
	cases := []struct {
		msg, input string
		bad        bool
	}{
		{"domain: canonicalise: empty label", "a..b", false},
		{"domain: canonicalise: empty label", "", false},
		{`parse "a..b": empty label`, "a..b", true},                                // quote is outside the alphabet
		{"bad label bücher", "bücher", true},                                       // non-ASCII
		{"x: " + "abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz", true}, // verbatim, long
		{"x: abc", "abc", false},                                                   // short safe input: coincidence allowed
	}
	for _, c := range cases {
		if got := Problem(c.msg, c.input) != ""; got != c.bad {
			t.Errorf("Problem(%q, %q) bad = %v; want %v", c.msg, c.input, got, c.bad)
		}
	}
}
