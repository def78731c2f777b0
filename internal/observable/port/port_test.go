package port

import (
	"errors"
	"testing"

	"github.com/heimdallhub/heimdall/internal/observable/internal/errcheck"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want uint16
		err  error
	}{
		{in: "0", want: 0},
		{in: "80", want: 80},
		{in: " 443\n", want: 443},
		{in: "0080", want: 80},
		{in: "65535", want: 65535},
		{in: "65536", err: ErrRange},
		{in: "99999999999999999999", err: ErrRange},
		{in: "-1", err: ErrSyntax},
		{in: "+80", err: ErrSyntax},
		{in: "80/tcp", err: ErrSyntax},
		{in: "0x50", err: ErrSyntax},
		{in: "", err: ErrEmpty},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("Parse(%q) = %d, %v; want error %v", c.in, got, err, c.err)
			} else if p := errcheck.Problem(err.Error(), c.in); p != "" {
				t.Errorf("Parse(%q): %s", c.in, p)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}

func TestProtocol(t *testing.T) {
	cases := []struct {
		in   string
		want string
		num  uint8
		err  error
	}{
		{in: "tcp", want: "tcp", num: 6},
		{in: "TCP", want: "tcp", num: 6},
		{in: "6", want: "tcp", num: 6},
		{in: "006", want: "tcp", num: 6},
		{in: "UDP", want: "udp", num: 17},
		{in: "17", want: "udp", num: 17},
		{in: "icmp", want: "icmp", num: 1},
		{in: "1", want: "icmp", num: 1},
		{in: "icmp6", want: "ipv6-icmp", num: 58},
		{in: "ICMPv6", want: "ipv6-icmp", num: 58},
		{in: "IPv6-ICMP", want: "ipv6-icmp", num: 58}, // Suricata's spelling
		{in: "58", want: "ipv6-icmp", num: 58},
		{in: "sctp", want: "sctp", num: 132},
		{in: "132", want: "sctp", num: 132},
		{in: "ospf", want: "ospfigp", num: 89},
		{in: "253", want: "253", num: 253},
		{in: "0253", want: "253", num: 253},
		{in: "256", err: ErrRange},
		{in: "unknown_transport", err: ErrUnknownProtocol}, // Zeek's placeholder
		{in: "http", err: ErrUnknownProtocol},
		{in: "6a", err: ErrSyntax},
		{in: " ", err: ErrEmpty},
	}
	for _, c := range cases {
		got, err := Protocol(c.in)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("Protocol(%q) = %q, %v; want error %v", c.in, got, err, c.err)
			} else if p := errcheck.Problem(err.Error(), c.in); p != "" {
				t.Errorf("Protocol(%q): %s", c.in, p)
			}
			if _, err := ProtocolNumber(c.in); !errors.Is(err, c.err) {
				t.Errorf("ProtocolNumber(%q) error = %v; want %v", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Protocol(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if n, err := ProtocolNumber(c.in); err != nil || n != c.num {
			t.Errorf("ProtocolNumber(%q) = %d, %v; want %d", c.in, n, err, c.num)
		}
	}
}

func TestProtocolTableConsistent(t *testing.T) {
	for n, name := range protocols {
		if got, err := Protocol(name); err != nil || got != name {
			t.Errorf("Protocol(%q) = %q, %v", name, got, err)
		}
		if num, err := ProtocolNumber(name); err != nil || int(num) != n {
			t.Errorf("ProtocolNumber(%q) = %d, %v; want %d", name, num, err, n)
		}
	}
	for alias, name := range aliases {
		if _, ok := names[name]; !ok {
			t.Errorf("alias %q points to unknown name %q", alias, name)
		}
	}
}
