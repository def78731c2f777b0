package email

import (
	"errors"
	"strings"
	"testing"

	"github.com/heimdallhub/heimdall/internal/observable/domain"
	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
	"github.com/heimdallhub/heimdall/internal/observable/ipaddr"
)

func TestCanonical(t *testing.T) {
	cases := []struct {
		in     string
		want   string
		domain string
		err    error
	}{
		{in: "john@example.com", want: "john@example.com", domain: "example.com"},
		{in: "  John.Doe@Example.COM. ", want: "John.Doe@example.com", domain: "example.com"},
		{in: "user+tag@example.com", want: "user+tag@example.com", domain: "example.com"},
		{in: "user@bücher.example", want: "user@xn--bcher-kva.example", domain: "xn--bcher-kva.example"},
		{in: "josé@example.com", want: "josé@example.com", domain: "example.com"}, // RFC 6531
		{in: `"john"@example.com`, want: "john@example.com", domain: "example.com"},
		{in: `"john doe"@example.com`, want: `"john doe"@example.com`, domain: "example.com"},
		{in: `"a\b"@example.com`, want: "ab@example.com", domain: "example.com"},
		{in: `"a\"b"@example.com`, want: `"a\"b"@example.com`, domain: "example.com"},
		{in: `"a@b"@example.com`, want: `"a@b"@example.com`, domain: "example.com"},
		{in: `"john..doe"@example.com`, want: `"john..doe"@example.com`, domain: "example.com"},
		{in: `""@example.com`, want: `""@example.com`, domain: "example.com"},
		{in: "!#$%&'*+-/=?^_`{|}~@example.com", want: "!#$%&'*+-/=?^_`{|}~@example.com", domain: "example.com"},
		{in: "user@[192.0.2.1]", want: "user@[192.0.2.1]", domain: "[192.0.2.1]"},
		{in: "user@[IPv6:2001:DB8::1]", want: "user@[IPv6:2001:db8::1]", domain: "[IPv6:2001:db8::1]"},
		{in: "user@[ipv6:::ffff:192.0.2.1]", want: "user@[192.0.2.1]", domain: "[192.0.2.1]"},
		{in: "", err: ErrEmpty},
		{in: "john.example.com", err: ErrNoAt},
		{in: "@example.com", err: ErrNoAt},
		{in: "john@", err: ErrNoAt},
		{in: "john..doe@example.com", err: ErrLocalPart},
		{in: ".john@example.com", err: ErrLocalPart},
		{in: "john.@example.com", err: ErrLocalPart},
		{in: "john doe@example.com", err: ErrLocalPart},
		{in: "a@b@example.com", err: ErrLocalPart},
		{in: `"unterminated@example.com`, err: ErrLocalPart},
		{in: "\"tab\there\"@example.com", err: ErrLocalPart},
		{in: "John <john@example.com>", err: ErrLocalPart},
		{in: "bad\xffutf8@example.com", err: ErrLocalPart},
		{in: strings.Repeat("a", 65) + "@example.com", err: ErrLength},
		{in: strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".com", err: ErrLength},
		{in: "john@exa mple.com", err: domain.ErrCharacter},
		{in: "john@ example.com", err: ErrDomain},
		{in: "john@_dmarc.example.com", err: ErrDomain},
		{in: "john@1.2.3.4", err: domain.ErrNumeric},
		{in: "john@[010.1.1.1]", err: ipaddr.ErrAmbiguous},
		{in: "john@[2001:db8::1]", err: ErrDomain},
		{in: "john@[IPv6:192.0.2.1]", err: ErrDomain},
		{in: "john@[192.0.2.1", err: ErrDomain},
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
			continue
		}
		if d, err := Domain(c.in); err != nil || d != c.domain {
			t.Errorf("Domain(%q) = %q, %v; want %q", c.in, d, err, c.domain)
		}
		if l, err := LocalPart(c.in); err != nil || l+"@"+c.domain != c.want {
			t.Errorf("LocalPart(%q) = %q, %v", c.in, l, err)
		}
	}
}
