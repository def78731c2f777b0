package ipaddr

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Sentinel errors. Returned errors wrap one of these with context.
var (
	// ErrEmpty reports an empty (or all white space) input.
	ErrEmpty = errors.New("empty input")
	// ErrSyntax reports input that is not an IP address or prefix.
	ErrSyntax = errors.New("not an IP address")
	// ErrAmbiguous reports an IPv4 form that parsers disagree on (leading
	// zeros, octal or hexadecimal octets, shortened dotted forms).
	ErrAmbiguous = errors.New("ambiguous IPv4 form (leading zero, octal, hexadecimal or shortened)")
	// ErrPrefixLength reports a missing, malformed or out-of-range prefix
	// length.
	ErrPrefixLength = errors.New("invalid prefix length")
)

// Parse parses an IPv4 or IPv6 address (see the package documentation for the
// accepted forms) and returns it without zone, IPv4-mapped addresses unmapped.
func Parse(s string) (netip.Addr, error) {
	a, _, err := parse(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("ipaddr: parse address: %w", err)
	}
	return a, nil
}

// parse does the work of Parse and also reports whether the input was an
// IPv4-mapped IPv6 address (needed to convert prefix lengths).
func parse(s string) (addr netip.Addr, mapped bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}, false, ErrEmpty
	}
	if s[0] == '[' {
		if len(s) < 2 || s[len(s)-1] != ']' {
			return netip.Addr{}, false, ErrSyntax
		}
		s = s[1 : len(s)-1]
	}
	if i := strings.IndexByte(s, '%'); i >= 0 {
		// A zone is only meaningful on IPv6 and must not be empty.
		if i == len(s)-1 || !strings.Contains(s[:i], ":") {
			return netip.Addr{}, false, ErrSyntax
		}
		s = s[:i]
	}
	a, perr := netip.ParseAddr(s)
	if perr != nil {
		// Never wrap perr: netip's messages quote the input.
		if looksAmbiguousIPv4(s) {
			return netip.Addr{}, false, ErrAmbiguous
		}
		return netip.Addr{}, false, ErrSyntax
	}
	return a.WithZone("").Unmap(), a.Is4In6(), nil
}

// looksAmbiguousIPv4 reports whether s is made of IPv4-ish parts (decimal,
// octal or hexadecimal numbers separated by dots) that some parser (inet_aton,
// WHATWG URL) would accept as an IPv4 address with a meaning that differs
// between parsers: a leading zero, a "0x" prefix, or fewer than four parts.
// It is only used to pick the error.
func looksAmbiguousIPv4(s string) bool {
	// The last IPv6 group may hold an embedded IPv4 address.
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[i+1:]
	}
	if !strings.Contains(s, ".") {
		return false
	}
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return false
	}
	odd := len(parts) < 4
	for _, p := range parts {
		if p == "" {
			return false
		}
		if len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X") {
			for _, c := range p[2:] {
				if !isHex(c) {
					return false
				}
			}
			odd = true
			continue
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return false
			}
		}
		if len(p) > 1 && p[0] == '0' {
			odd = true
		}
	}
	return odd
}

func isHex(c rune) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// String returns the canonical text of a: dotted decimal for IPv4, RFC 5952
// for IPv6, zone dropped, IPv4-mapped addresses unmapped. It returns "" for
// the zero (invalid) Addr.
func String(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.WithZone("").Unmap().String()
}

// ParsePrefix parses a CIDR prefix "address/length" and returns it masked
// (host bits cleared). The address part accepts the forms Parse accepts; the
// length must be decimal without sign or leading zeros and at most 32 (IPv4)
// or 128 (IPv6). An IPv4-mapped IPv6 prefix of length 96 or more becomes the
// equivalent IPv4 prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	p, err := parsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("ipaddr: parse prefix: %w", err)
	}
	return p, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, ErrEmpty
	}
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return netip.Prefix{}, ErrPrefixLength
	}
	a, mapped, err := parse(s[:i])
	if err != nil {
		return netip.Prefix{}, err
	}
	bits, ok := parseBits(s[i+1:])
	if !ok {
		return netip.Prefix{}, ErrPrefixLength
	}
	if mapped {
		if bits > 128 {
			return netip.Prefix{}, ErrPrefixLength
		}
		if bits < 96 {
			// Covers more than the mapped range: keep it IPv6.
			a = netip.AddrFrom16(a.As16())
		} else {
			bits -= 96
		}
	}
	if bits > a.BitLen() {
		return netip.Prefix{}, ErrPrefixLength
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, ErrPrefixLength
	}
	return p, nil
}

// parseBits parses a prefix length: 1 to 3 decimal digits, no sign, no
// leading zero (except "0" itself).
func parseBits(s string) (int, bool) {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// PrefixString returns the canonical text of p: masked, IPv4-mapped prefixes
// of length 96 or more converted to IPv4. It returns "" for the zero Prefix.
func PrefixString(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	a, bits := p.Addr().WithZone(""), p.Bits()
	if a.Is4In6() && bits >= 96 {
		a, bits = a.Unmap(), bits-96
	}
	q, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return q.String()
}

// Canonical returns the canonical text of an address or, if s contains '/',
// of a CIDR prefix. A prefix covering exactly one address (/32 for IPv4,
// /128 for IPv6) is written as the plain address, so "192.0.2.1/32" and
// "192.0.2.1" are the same observable.
func Canonical(s string) (string, error) {
	if !strings.Contains(s, "/") {
		a, err := Parse(s)
		if err != nil {
			return "", err
		}
		return String(a), nil
	}
	p, err := ParsePrefix(s)
	if err != nil {
		return "", err
	}
	if p.IsSingleIP() {
		return String(p.Addr()), nil
	}
	return PrefixString(p), nil
}
