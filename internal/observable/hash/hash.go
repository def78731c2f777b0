package hash

import (
	"errors"
	"fmt"
	"strings"
)

// Algorithm names a hash algorithm with its STIX 2.1 hash-algorithm-ov name.
type Algorithm string

// Supported algorithms.
const (
	MD5     Algorithm = "MD5"
	SHA1    Algorithm = "SHA-1"
	SHA256  Algorithm = "SHA-256"
	SHA512  Algorithm = "SHA-512"
	SHA3256 Algorithm = "SHA3-256"
	SHA3512 Algorithm = "SHA3-512"
)

// HexLen returns the length in hex digits of a digest of algorithm a, or 0 if
// a is not a supported algorithm.
func (a Algorithm) HexLen() int {
	switch a {
	case MD5:
		return 32
	case SHA1:
		return 40
	case SHA256, SHA3256:
		return 64
	case SHA512, SHA3512:
		return 128
	}
	return 0
}

// Sentinel errors. Returned errors wrap one of these with context.
var (
	// ErrEmpty reports an empty input.
	ErrEmpty = errors.New("empty input")
	// ErrHex reports a character that is not a hexadecimal digit, or badly
	// placed colons.
	ErrHex = errors.New("not a hexadecimal digest")
	// ErrLength reports a digest length that matches no supported algorithm.
	ErrLength = errors.New("digest length matches no supported algorithm")
	// ErrAlgorithm reports an unknown algorithm prefix.
	ErrAlgorithm = errors.New("unknown hash algorithm")
	// ErrMismatch reports a digest whose length does not match the
	// algorithm named by its prefix.
	ErrMismatch = errors.New("digest length does not match the named algorithm")
)

// prefixes maps lower-case algorithm prefixes to algorithms.
var prefixes = map[string]Algorithm{
	"md5":      MD5,
	"sha1":     SHA1,
	"sha-1":    SHA1,
	"sha256":   SHA256,
	"sha-256":  SHA256,
	"sha512":   SHA512,
	"sha-512":  SHA512,
	"sha3-256": SHA3256,
	"sha3_256": SHA3256,
	"sha3-512": SHA3512,
	"sha3_512": SHA3512,
}

// byLength maps digest lengths (hex digits) to the algorithm assumed when no
// prefix names one.
var byLength = map[int]Algorithm{32: MD5, 40: SHA1, 64: SHA256, 128: SHA512}

// maxInput bounds the input length (a SHA-512 with colons and a prefix is
// well under this).
const maxInput = 512

// Canonical returns the algorithm and the lower-case hex digest of s.
func Canonical(s string) (Algorithm, string, error) {
	a, h, err := canonical(s)
	if err != nil {
		return "", "", fmt.Errorf("hash: canonicalise: %w", err)
	}
	return a, h, nil
}

func canonical(s string) (Algorithm, string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "", ErrEmpty
	}
	if len(s) > maxInput {
		return "", "", ErrLength
	}
	var named Algorithm
	if i := strings.IndexAny(s, ":="); i > 0 && !isHexString(s[:i]) {
		a, ok := prefixes[strings.ToLower(s[:i])]
		if !ok {
			return "", "", ErrAlgorithm
		}
		named, s = a, strings.TrimSpace(s[i+1:])
	}
	h, err := hexDigits(s)
	if err != nil {
		return "", "", err
	}
	if named != "" {
		if named.HexLen() != len(h) {
			return "", "", ErrMismatch
		}
		return named, h, nil
	}
	a, ok := byLength[len(h)]
	if !ok {
		return "", "", ErrLength
	}
	return a, h, nil
}

// hexDigits returns s in lower case after removing octet-separating colons.
// Colons must separate every octet or none.
func hexDigits(s string) (string, error) {
	if s == "" {
		return "", ErrEmpty
	}
	if strings.Contains(s, ":") {
		parts := strings.Split(s, ":")
		for _, p := range parts {
			if len(p) != 2 {
				return "", ErrHex
			}
		}
		s = strings.Join(parts, "")
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
			b.WriteByte(c)
		case c >= 'A' && c <= 'F':
			b.WriteByte(c + ('a' - 'A'))
		default:
			return "", ErrHex
		}
	}
	return b.String(), nil
}

func isHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
