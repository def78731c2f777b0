package mac

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Returned errors wrap one of these with context.
var (
	// ErrEmpty reports an empty input.
	ErrEmpty = errors.New("empty input")
	// ErrSyntax reports input that is in none of the accepted notations.
	ErrSyntax = errors.New("not a MAC address (EUI-48 or EUI-64)")
)

// Canonical returns the lower-case, colon-separated form of a MAC address.
func Canonical(s string) (string, error) {
	b, err := parse(s)
	if err != nil {
		return "", fmt.Errorf("mac: canonicalise: %w", err)
	}
	const hexDigits = "0123456789abcdef"
	out := make([]byte, 0, 3*len(b)-1)
	for i, o := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, hexDigits[o>>4], hexDigits[o&0xf])
	}
	return string(out), nil
}

// parse returns the 6 or 8 octets of s.
func parse(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, ErrEmpty
	}
	if len(s) > 32 {
		return nil, ErrSyntax
	}
	switch {
	case strings.Contains(s, ":"):
		return octets(s, ":")
	case strings.Contains(s, "-"):
		return octets(s, "-")
	case strings.Contains(s, "."):
		groups := strings.Split(s, ".")
		if len(groups) != 3 && len(groups) != 4 {
			return nil, ErrSyntax
		}
		for _, g := range groups {
			if len(g) != 4 {
				return nil, ErrSyntax
			}
		}
		return bare(strings.Join(groups, ""))
	default:
		return bare(s)
	}
}

// octets parses 6 or 8 octets of one or two hex digits separated by sep.
func octets(s, sep string) ([]byte, error) {
	parts := strings.Split(s, sep)
	if len(parts) != 6 && len(parts) != 8 {
		return nil, ErrSyntax
	}
	out := make([]byte, len(parts))
	for i, p := range parts {
		if len(p) < 1 || len(p) > 2 {
			return nil, ErrSyntax
		}
		var v byte
		for j := 0; j < len(p); j++ {
			d, ok := hexValue(p[j])
			if !ok {
				return nil, ErrSyntax
			}
			v = v<<4 | d
		}
		out[i] = v
	}
	return out, nil
}

// bare parses 12 or 16 hex digits.
func bare(s string) ([]byte, error) {
	if len(s) != 12 && len(s) != 16 {
		return nil, ErrSyntax
	}
	out := make([]byte, len(s)/2)
	for i := range out {
		hi, ok1 := hexValue(s[2*i])
		lo, ok2 := hexValue(s[2*i+1])
		if !ok1 || !ok2 {
			return nil, ErrSyntax
		}
		out[i] = hi<<4 | lo
	}
	return out, nil
}

func hexValue(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
