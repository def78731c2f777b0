package port

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors. Returned errors wrap one of these with context.
var (
	// ErrEmpty reports an empty input.
	ErrEmpty = errors.New("empty input")
	// ErrSyntax reports a port that is not a decimal number.
	ErrSyntax = errors.New("not a decimal port number")
	// ErrRange reports a port above 65535 or a protocol number above 255.
	ErrRange = errors.New("number out of range")
	// ErrUnknownProtocol reports a protocol name that is not in the table.
	ErrUnknownProtocol = errors.New("unknown protocol name")
)

// Parse parses a decimal port number 0..65535.
func Parse(s string) (uint16, error) {
	n, err := parseDecimal(s, 65535)
	if err != nil {
		return 0, fmt.Errorf("port: parse port: %w", err)
	}
	return uint16(n), nil
}

// parseDecimal parses decimal digits (leading zeros allowed) up to max.
func parseDecimal(s string, max int) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, ErrEmpty
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, ErrSyntax
		}
		n = n*10 + int(c-'0')
		if n > max {
			return 0, ErrRange
		}
	}
	return n, nil
}

// protocols maps IANA protocol numbers to canonical names (IANA keywords,
// lower case) for the protocols seen in network telemetry.
var protocols = map[int]string{
	0:   "hopopt",
	1:   "icmp",
	2:   "igmp",
	4:   "ipv4",
	6:   "tcp",
	17:  "udp",
	33:  "dccp",
	41:  "ipv6",
	43:  "ipv6-route",
	44:  "ipv6-frag",
	47:  "gre",
	50:  "esp",
	51:  "ah",
	58:  "ipv6-icmp",
	59:  "ipv6-nonxt",
	60:  "ipv6-opts",
	88:  "eigrp",
	89:  "ospfigp",
	94:  "ipip",
	103: "pim",
	112: "vrrp",
	115: "l2tp",
	132: "sctp",
	135: "mobility-header",
	136: "udplite",
	137: "mpls-in-ip",
}

// aliases maps other spellings to canonical names.
var aliases = map[string]string{
	"icmp6":    "ipv6-icmp",
	"icmpv6":   "ipv6-icmp",
	"icmp-v6":  "ipv6-icmp",
	"ipv6icmp": "ipv6-icmp",
	"icmpv4":   "icmp",
	"ospf":     "ospfigp",
	"ip-in-ip": "ipip",
	"ipencap":  "ipv4",
	"udp-lite": "udplite",
}

// names maps canonical names to numbers (built from protocols).
var names = func() map[string]int {
	m := make(map[string]int, len(protocols))
	for n, name := range protocols {
		m[name] = n
	}
	return m
}()

// Protocol returns the canonical name of a protocol given by name (any case)
// or by decimal number.
func Protocol(s string) (string, error) {
	p, err := protocol(s)
	if err != nil {
		return "", fmt.Errorf("port: canonicalise protocol: %w", err)
	}
	return p, nil
}

func protocol(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", ErrEmpty
	}
	if s[0] >= '0' && s[0] <= '9' {
		n, err := parseDecimal(s, 255)
		if err != nil {
			return "", err
		}
		if name, ok := protocols[n]; ok {
			return name, nil
		}
		return strconv.Itoa(n), nil
	}
	if _, ok := names[s]; ok {
		return s, nil
	}
	if name, ok := aliases[s]; ok {
		return name, nil
	}
	return "", ErrUnknownProtocol
}

// ProtocolNumber returns the IANA number of a protocol given by name or
// number, as Protocol accepts it.
func ProtocolNumber(s string) (uint8, error) {
	p, err := protocol(s)
	if err != nil {
		return 0, fmt.Errorf("port: protocol number: %w", err)
	}
	if n, ok := names[p]; ok {
		return uint8(n), nil
	}
	n, _ := strconv.Atoi(p) // canonical unnamed protocols are decimal 0..255
	return uint8(n), nil
}
