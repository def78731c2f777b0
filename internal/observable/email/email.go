package email

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/internal/observable/domain"
	"github.com/heimdallhub/heimdall/internal/observable/ipaddr"
)

// Sentinel errors. Returned errors wrap one of these with context; domain
// errors wrap ErrDomain and also the domain or ipaddr package error.
var (
	// ErrEmpty reports an empty input.
	ErrEmpty = errors.New("empty input")
	// ErrNoAt reports an input without '@' or with an empty side.
	ErrNoAt = errors.New("not of the form local part, at sign, domain")
	// ErrLocalPart reports an invalid local part.
	ErrLocalPart = errors.New("invalid local part")
	// ErrDomain reports an invalid domain or address literal.
	ErrDomain = errors.New("invalid domain")
	// ErrLength reports a local part over 64 octets or an address over 254.
	ErrLength = errors.New("address too long")
)

const (
	maxLocal   = 64
	maxAddress = 254
)

// Canonical returns the canonical form of an e-mail address.
func Canonical(s string) (string, error) {
	local, dom, err := split(s)
	if err != nil {
		return "", fmt.Errorf("email: canonicalise: %w", err)
	}
	return local + "@" + dom, nil
}

// Domain returns the canonical domain part (or address literal) of an e-mail
// address; the address must be valid as a whole.
func Domain(s string) (string, error) {
	_, dom, err := split(s)
	if err != nil {
		return "", fmt.Errorf("email: domain: %w", err)
	}
	return dom, nil
}

// LocalPart returns the canonical local part of an e-mail address; the address
// must be valid as a whole.
func LocalPart(s string) (string, error) {
	local, _, err := split(s)
	if err != nil {
		return "", fmt.Errorf("email: local part: %w", err)
	}
	return local, nil
}

func split(s string) (local, dom string, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "", ErrEmpty
	}
	if len(s) > 4*maxAddress {
		return "", "", ErrLength
	}
	if !utf8.ValidString(s) {
		return "", "", ErrLocalPart
	}
	i := strings.LastIndexByte(s, '@')
	if i <= 0 || i == len(s)-1 {
		return "", "", ErrNoAt
	}
	local, err = canonicalLocal(s[:i])
	if err != nil {
		return "", "", err
	}
	dom, err = canonicalDomain(s[i+1:])
	if err != nil {
		return "", "", err
	}
	if len(local)+1+len(dom) > maxAddress {
		return "", "", ErrLength
	}
	return local, dom, nil
}

// canonicalLocal validates a dot-atom or quoted-string local part and returns
// its minimal form.
func canonicalLocal(l string) (string, error) {
	var out string
	if strings.HasPrefix(l, `"`) {
		content, err := unquote(l)
		if err != nil {
			return "", err
		}
		if isDotAtom(content) {
			out = content
		} else {
			out = quote(content)
		}
	} else {
		if !isDotAtom(l) {
			return "", ErrLocalPart
		}
		out = l
	}
	if len(out) > maxLocal {
		return "", ErrLength
	}
	return out, nil
}

// unquote parses an RFC 5321 Quoted-string (with RFC 6531 UTF-8) and returns
// its content with quoted-pairs resolved.
func unquote(q string) (string, error) {
	if len(q) < 2 || q[len(q)-1] != '"' {
		return "", ErrLocalPart
	}
	body := q[1 : len(q)-1]
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\':
			// quoted-pairSMTP = %d92 %d32-126
			if i+1 >= len(body) || body[i+1] < 32 || body[i+1] > 126 {
				return "", ErrLocalPart
			}
			i++
			b.WriteByte(body[i])
		case c == '"':
			return "", ErrLocalPart
		case c >= 32 && c <= 126, c >= 0x80:
			// qtextSMTP = %d32-33 / %d35-91 / %d93-126 / UTF8-non-ascii
			b.WriteByte(c)
		default:
			return "", ErrLocalPart
		}
	}
	return b.String(), nil
}

// quote writes content as a Quoted-string, escaping only '"' and '\'.
func quote(content string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(content); i++ {
		if c := content[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(content[i])
	}
	b.WriteByte('"')
	return b.String()
}

// isDotAtom reports whether s is Atom *("." Atom) with RFC 5321 atext plus
// non-ASCII UTF-8 (RFC 6531).
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c == '.' || isAtext(c) {
			continue
		}
		return false
	}
	return true
}

func isAtext(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// canonicalDomain canonicalises a domain or an address literal.
func canonicalDomain(d string) (string, error) {
	if strings.HasPrefix(d, "[") {
		if !strings.HasSuffix(d, "]") {
			return "", ErrDomain
		}
		lit := d[1 : len(d)-1]
		v6 := false
		if len(lit) >= 5 && strings.EqualFold(lit[:5], "IPv6:") {
			lit, v6 = lit[5:], true
		}
		if strings.ContainsAny(lit, "%[] \t") {
			return "", ErrDomain
		}
		a, err := ipaddr.Parse(lit)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrDomain, err)
		}
		// A bare IPv6 literal needs the tag; a tagged IPv4 is not valid
		// unless it was an IPv4-mapped IPv6 address.
		if !v6 && a.Is6() {
			return "", ErrDomain
		}
		if a.Is4() && v6 && !strings.Contains(lit, ":") {
			return "", ErrDomain
		}
		if a.Is6() {
			return "[IPv6:" + ipaddr.String(a) + "]", nil
		}
		return "[" + ipaddr.String(a) + "]", nil
	}
	if strings.TrimSpace(d) != d {
		return "", ErrDomain
	}
	c, err := domain.Canonical(d)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrDomain, err)
	}
	if strings.Contains(c, "_") {
		return "", ErrDomain
	}
	return c, nil
}
