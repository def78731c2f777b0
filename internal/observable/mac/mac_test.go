package mac

import (
	"errors"
	"testing"

	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
)

func TestCanonical(t *testing.T) {
	cases := []struct {
		in   string
		want string
		err  error
	}{
		{in: "aa:bb:cc:dd:ee:ff", want: "aa:bb:cc:dd:ee:ff"},
		{in: "AA-BB-CC-DD-EE-FF", want: "aa:bb:cc:dd:ee:ff"},
		{in: "aabb.ccdd.eeff", want: "aa:bb:cc:dd:ee:ff"},
		{in: "AABBCCDDEEFF", want: "aa:bb:cc:dd:ee:ff"},
		{in: " 0:1b:63:84:45:e6\n", want: "00:1b:63:84:45:e6"},
		{in: "00:1B:63:84:45:E6:00:01", want: "00:1b:63:84:45:e6:00:01"},
		{in: "001b.6384.45e6.0001", want: "00:1b:63:84:45:e6:00:01"},
		{in: "001b638445e60001", want: "00:1b:63:84:45:e6:00:01"},
		{in: "d2:fb:49:24:37:18", want: "d2:fb:49:24:37:18"},
		{in: "", err: ErrEmpty},
		{in: "aa:bb:cc:dd:ee", err: ErrSyntax},
		{in: "aa:bb:cc:dd:ee:ff:00", err: ErrSyntax},
		{in: "aa:bb-cc:dd:ee:ff", err: ErrSyntax},
		{in: "aa:bb:cc:dd:ee:fg", err: ErrSyntax},
		{in: "aaa:bb:cc:dd:ee:ff", err: ErrSyntax},
		{in: "aa::cc:dd:ee:ff", err: ErrSyntax},
		{in: "aabb.ccdd.eef", err: ErrSyntax},
		{in: "aabbccddeef", err: ErrSyntax},
		{in: "aabbccddeeff00", err: ErrSyntax},
		{in: "aa bb cc dd ee ff", err: ErrSyntax},
	}
	for _, c := range cases {
		got, err := Canonical(c.in)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("Canonical(%q) = %q, %v; want error %v", c.in, got, err, c.err)
			} else if p := errcheck.Problem(err.Error(), c.in); p != "" {
				t.Errorf("Canonical(%q): %s", c.in, p)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}
