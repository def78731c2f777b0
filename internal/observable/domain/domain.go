package domain

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Sentinel errors. Returned errors wrap one of these with context.
var (
	// ErrEmpty reports an empty input (or just a dot).
	ErrEmpty = errors.New("empty input")
	// ErrIDNA reports input rejected by UTS 46 processing (disallowed code
	// points, invalid Punycode, Bidi or joiner rule violations).
	ErrIDNA = errors.New("not a valid internationalised domain name")
	// ErrCharacter reports an octet other than a-z, 0-9, '-' and '_' after
	// mapping.
	ErrCharacter = errors.New("character not allowed in a domain name")
	// ErrEmptyLabel reports an empty label ("a..b", ".a", "a..").
	ErrEmptyLabel = errors.New("empty label")
	// ErrLabelLength reports a label longer than 63 octets.
	ErrLabelLength = errors.New("label longer than 63 octets")
	// ErrLength reports a name longer than 253 octets (or an input longer
	// than MaxInputLength).
	ErrLength = errors.New("domain name too long")
	// ErrNumeric reports a name whose last label is numeric.
	ErrNumeric = errors.New("last label is numeric (an IP address is not a domain name)")
	// ErrNoRegistrable reports a name that is a public suffix itself or has
	// no registrable part.
	ErrNoRegistrable = errors.New("no registrable domain (name is a public suffix)")
)

const (
	// MaxLength is the maximum length of a canonical name in octets,
	// excluding the root dot (RFC 1035 section 2.3.4 as applied by UTS 46
	// VerifyDnsLength).
	MaxLength = 253
	// MaxLabelLength is the maximum length of a label in octets.
	MaxLabelLength = 63
	// MaxInputLength bounds the input accepted before mapping, so hostile
	// input cannot make IDNA processing expensive. Four bytes per code point
	// covers any name that could map to MaxLength octets.
	MaxInputLength = 4 * (MaxLength + 1)
)

// profile is the UTS 46 profile described in the package documentation.
// Option order matters: MapForLookup turns STD3 rules on, so
// StrictDomainName(false) must follow it.
var profile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.BidiRule(),
	idna.CheckJoiners(true),
	idna.CheckHyphens(false),
	idna.StrictDomainName(false),
	idna.VerifyDNSLength(true),
)

// trailingDots are the characters UTS 46 maps to '.', so a name written with
// an ideographic full stop at the end is treated like one ending in '.'.
var trailingDots = []string{".", "\u3002", "\uff0e", "\uff61"}

// Canonical returns the canonical form of a domain name: lower-case A-labels,
// no trailing dot. See the package documentation for the rules.
func Canonical(s string) (string, error) {
	c, err := canonical(s)
	if err != nil {
		return "", fmt.Errorf("domain: canonicalise: %w", err)
	}
	return c, nil
}

func canonical(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxInputLength {
		return "", ErrLength
	}
	for _, d := range trailingDots {
		if strings.HasSuffix(s, d) {
			s = s[:len(s)-len(d)]
			break
		}
	}
	if s == "" {
		return "", ErrEmpty
	}
	// Check empty labels in ASCII input first, for a precise error.
	if strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return "", ErrEmptyLabel
	}
	a, err := profile.ToASCII(s)
	if err != nil {
		// Never wrap err: x/net/idna messages quote the offending label.
		return "", classify(a)
	}
	a = strings.ToLower(a)
	if err := check(a); err != nil {
		return "", err
	}
	if strings.Contains(a, "xn--") {
		// With STD3 rules off, UTS 46 lets through U+2260, U+226E and
		// U+226F, whose decompositions contain '=', '<' and '>'. The
		// ASCII check cannot see them inside A-labels, so look at the
		// U-labels. (The other characters STD3 rules would reject all
		// map to ASCII that the check above judges, or are rejected
		// by x/net already; see the package documentation.)
		u, err := profile.ToUnicode(a)
		if err != nil || strings.ContainsAny(u, "\u2260\u226e\u226f") {
			return "", ErrIDNA
		}
	}
	return a, nil
}

// classify picks the most precise error for a name that UTS 46 rejected,
// looking at the (partial) output, which x/net returns even on error.
func classify(partial string) error {
	if partial == "" {
		return ErrIDNA
	}
	if len(partial) > MaxLength {
		return ErrLength
	}
	for _, l := range strings.Split(partial, ".") {
		if l == "" {
			return ErrEmptyLabel
		}
		if len(l) > MaxLabelLength {
			return ErrLabelLength
		}
	}
	return ErrIDNA
}

// check validates an ASCII, lower-cased name.
func check(a string) error {
	if a == "" {
		return ErrEmpty
	}
	if len(a) > MaxLength {
		return ErrLength
	}
	labels := strings.Split(a, ".")
	for _, l := range labels {
		if l == "" {
			return ErrEmptyLabel
		}
		if len(l) > MaxLabelLength {
			return ErrLabelLength
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return ErrCharacter
			}
		}
	}
	if isNumeric(labels[len(labels)-1]) {
		return ErrNumeric
	}
	return nil
}

// isNumeric reports whether a label is a number in the sense of the WHATWG URL
// Standard's "ends in a number" check: all decimal digits, or "0x" followed by
// hexadecimal digits.
func isNumeric(l string) bool {
	if strings.HasPrefix(l, "0x") {
		for i := 2; i < len(l); i++ {
			c := l[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return true
}

// Registrable returns the registrable domain (eTLD+1) of s, canonicalised:
// "www.Example.co.uk." gives "example.co.uk". It returns an error wrapping
// ErrNoRegistrable if s is itself a public suffix ("co.uk") or a single label.
func Registrable(s string) (string, error) {
	c, err := canonical(s)
	if err != nil {
		return "", fmt.Errorf("domain: registrable domain: %w", err)
	}
	r, err := publicsuffix.EffectiveTLDPlusOne(c)
	if err != nil {
		// Never wrap err: publicsuffix messages quote the input.
		return "", fmt.Errorf("domain: registrable domain: %w", ErrNoRegistrable)
	}
	return r, nil
}
