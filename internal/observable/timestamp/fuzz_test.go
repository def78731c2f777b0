package timestamp

import (
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
)

// FuzzParse checks, for any input:
//   - Parse never panics;
//   - the result is always in UTC;
//   - the result is stable: formatting it as RFC 3339 with nanoseconds and
//     parsing that again gives the same instant (Parse(Format(Parse(x))) ==
//     Parse(x)), whatever loc is;
//   - parsing is deterministic: the same input, loc and reference always give
//     the same result;
//   - error messages never carry the input.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"2015-10-22T06:31:06.520370+0100",
		"Mon, 02 Jan 2006 15:04:05 MST",
		"Jan  2 15:04:05",
		"Jan 02 2006 15:04:05.000 GMT+01:00",
		"1258531221.486539",
	} {
		f.Add(s)
	}
	loc := time.FixedZone("", -5*3600)
	ref := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s, loc, WithReference(ref))
		if err != nil {
			if p := errcheck.Problem(err.Error(), s); p != "" {
				t.Fatal(p)
			}
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("Parse(%q) not in UTC", s)
		}
		again, err := Parse(s, loc, WithReference(ref))
		if err != nil || !again.Equal(got) {
			t.Fatalf("Parse(%q) not deterministic", s)
		}
		if got.Year() < 0 || got.Year() > 9999 {
			return // RFC 3339 cannot represent it
		}
		text := got.Format(time.RFC3339Nano)
		back, err := Parse(text, nil)
		if err != nil || !back.Equal(got) {
			t.Fatalf("round trip: %q -> %s -> %v, %v", s, text, back, err)
		}
	})
}
