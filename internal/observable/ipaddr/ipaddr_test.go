package ipaddr

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want string
		err  error
	}{
		{in: "192.0.2.1", want: "192.0.2.1"},
		{in: "  192.0.2.1\t\n", want: "192.0.2.1"},
		{in: "0.0.0.0", want: "0.0.0.0"},
		{in: "255.255.255.255", want: "255.255.255.255"},
		{in: "::ffff:1.2.3.4", want: "1.2.3.4"},
		{in: "::FFFF:C000:0201", want: "192.0.2.1"},
		{in: "[::ffff:1.2.3.4]", want: "1.2.3.4"},
		{in: "[::1]", want: "::1"},
		{in: "[192.0.2.1]", want: "192.0.2.1"},
		{in: "2001:DB8:0:0:0:0:2:1", want: "2001:db8::2:1"},
		{in: "2001:db8:0:0:1:0:0:1", want: "2001:db8::1:0:0:1"}, // RFC 5952 4.2.3: first longest run
		{in: "2001:0db8:0000:0000:0001:0000:0000:0001", want: "2001:db8::1:0:0:1"},
		{in: "2001:db8:0:1:1:1:1:1", want: "2001:db8:0:1:1:1:1:1"}, // RFC 5952 4.2.2: no :: for one group
		{in: "fe80::1%eth0", want: "fe80::1"},
		{in: "[fe80::1%25eth0]", want: "fe80::1"},
		{in: "::192.0.2.1", want: "::c000:201"}, // IPv4-compatible stays IPv6
		{in: "64:ff9b::192.0.2.1", want: "64:ff9b::c000:201"},
		{in: "010.1.1.1", err: ErrAmbiguous},
		{in: "1.2.3.04", err: ErrAmbiguous},
		{in: "0x7f.0.0.1", err: ErrAmbiguous},
		{in: "0X7F.1", err: ErrAmbiguous},
		{in: "127.1", err: ErrAmbiguous},
		{in: "::ffff:010.1.1.1", err: ErrAmbiguous},
		{in: "1.2.3.256", err: ErrSyntax},
		{in: "3232235777", err: ErrSyntax},
		{in: "1.2.3.4.5", err: ErrSyntax},
		{in: "192.0.2.1%eth0", err: ErrSyntax},
		{in: "fe80::1%", err: ErrSyntax},
		{in: "[::1", err: ErrSyntax},
		{in: "[", err: ErrSyntax},
		{in: "example.com", err: ErrSyntax},
		{in: "1.2.3.4/24", err: ErrSyntax},
		{in: "", err: ErrEmpty},
		{in: " \t", err: ErrEmpty},
	}
	for _, c := range cases {
		a, err := Parse(c.in)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("Parse(%q) error = %v; want %v", c.in, err, c.err)
			} else if p := errcheck.Problem(err.Error(), c.in); p != "" {
				t.Errorf("Parse(%q): %s", c.in, p)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q) error = %v", c.in, err)
			continue
		}
		if got := String(a); got != c.want {
			t.Errorf("String(Parse(%q)) = %q; want %q", c.in, got, c.want)
		}
		if a.Zone() != "" || a.Is4In6() {
			t.Errorf("Parse(%q) = %v keeps a zone or mapping", c.in, a)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	cases := []struct {
		in   string
		want string
		err  error
	}{
		{in: "192.0.2.7/24", want: "192.0.2.0/24"},
		{in: "192.0.2.7/32", want: "192.0.2.7/32"},
		{in: "0.0.0.0/0", want: "0.0.0.0/0"},
		{in: "2001:DB8::1/32", want: "2001:db8::/32"},
		{in: "::ffff:192.0.2.7/120", want: "192.0.2.0/24"},
		{in: "::ffff:192.0.2.7/64", want: "::/64"},
		{in: "fe80::1%eth0/64", want: "fe80::/64"},
		{in: " 10.1.2.3/8 ", want: "10.0.0.0/8"},
		{in: "192.0.2.0/33", err: ErrPrefixLength},
		{in: "192.0.2.0/024", err: ErrPrefixLength},
		{in: "192.0.2.0/+24", err: ErrPrefixLength},
		{in: "192.0.2.0/", err: ErrPrefixLength},
		{in: "192.0.2.0", err: ErrPrefixLength},
		{in: "::/129", err: ErrPrefixLength},
		{in: "010.0.0.0/8", err: ErrAmbiguous},
		{in: "", err: ErrEmpty},
	}
	for _, c := range cases {
		p, err := ParsePrefix(c.in)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("ParsePrefix(%q) error = %v; want %v", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParsePrefix(%q) error = %v", c.in, err)
			continue
		}
		if got := PrefixString(p); got != c.want {
			t.Errorf("PrefixString(ParsePrefix(%q)) = %q; want %q", c.in, got, c.want)
		}
	}
}

func TestCanonical(t *testing.T) {
	cases := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"192.0.2.1/32", "192.0.2.1"},
		{"2001:db8::1/128", "2001:db8::1"},
		{"::ffff:192.0.2.1/128", "192.0.2.1"},
		{"192.0.2.1/24", "192.0.2.0/24"},
	}
	for _, c := range cases {
		got, err := Canonical(c.in)
		if err != nil || got != c.want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestStringZeroValues(t *testing.T) {
	if String(netip.Addr{}) != "" || PrefixString(netip.Prefix{}) != "" {
		t.Error("zero values must format as empty strings")
	}
	mapped := netip.MustParsePrefix("::ffff:10.0.0.0/104")
	if got := PrefixString(mapped); got != "10.0.0.0/8" {
		t.Errorf("PrefixString(%v) = %q", mapped, got)
	}
}
