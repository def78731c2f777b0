package observable

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/internal/observable/domain"
	"github.com/heimdallhub/heimdall/internal/observable/email"
	"github.com/heimdallhub/heimdall/internal/observable/hash"
	"github.com/heimdallhub/heimdall/internal/observable/ipaddr"
	"github.com/heimdallhub/heimdall/internal/observable/mac"
	"github.com/heimdallhub/heimdall/internal/observable/urlnorm"
)

// Kind is the type of an observable: a STIX 2.1 cyber-observable type name or
// a Heimdall kind.
type Kind string

// STIX 2.1 cyber-observable types.
const (
	KindIPv4Addr         Kind = "ipv4-addr"
	KindIPv6Addr         Kind = "ipv6-addr"
	KindDomainName       Kind = "domain-name"
	KindURL              Kind = "url"
	KindFile             Kind = "file"
	KindEmailAddr        Kind = "email-addr"
	KindMACAddr          Kind = "mac-addr"
	KindAutonomousSystem Kind = "autonomous-system"
	KindX509Certificate  Kind = "x509-certificate"
	KindUserAccount      Kind = "user-account"
)

// Heimdall kinds (no STIX 2.1 type, or none with a deterministic identity).
const (
	KindHost           Kind = "host"
	KindAlertSignature Kind = "alert-signature"
	KindUserAgent      Kind = "user-agent"
)

// Kinds returns every kind, STIX kinds first.
func Kinds() []Kind {
	return []Kind{
		KindIPv4Addr, KindIPv6Addr, KindDomainName, KindURL, KindFile, KindEmailAddr,
		KindMACAddr, KindAutonomousSystem, KindX509Certificate, KindUserAccount,
		KindHost, KindAlertSignature, KindUserAgent,
	}
}

// IsSTIX reports whether k is a STIX 2.1 type (its keys are STIX ids).
func (k Kind) IsSTIX() bool {
	switch k {
	case KindIPv4Addr, KindIPv6Addr, KindDomainName, KindURL, KindFile, KindEmailAddr,
		KindMACAddr, KindAutonomousSystem, KindX509Certificate, KindUserAccount:
		return true
	}
	return false
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	return k.IsSTIX() || k == KindHost || k == KindAlertSignature || k == KindUserAgent
}

// Observable is a canonical observable. Build it with Canonicalize, ParseIP or
// the New functions: Key assumes canonical values and does not re-check them.
type Observable struct {
	// Kind is the observable's type.
	Kind Kind
	// Value is the canonical primary value: the address, name, URL, MAC,
	// decimal AS number, user_id (user-account), signature or user agent
	// text; for file and x509-certificate, the hex digest of the hash that
	// contributes to the key (empty for a file known only by name).
	Value string
	// Hashes maps STIX hash algorithm names ("MD5", "SHA-1", "SHA-256",
	// "SHA-512", "SHA3-256", "SHA3-512") to lower-case hex digests; file and
	// x509-certificate only.
	Hashes map[string]string
	// Name is the file name (file only; contributes to the key).
	Name string
	// SerialNumber is the certificate serial number as given by the source
	// (x509-certificate only; contributes to the key).
	SerialNumber string
	// AccountType is the STIX account-type-ov value, lower case
	// (user-account only; contributes to the key).
	AccountType string
	// AccountLogin is the login name when it differs from the user_id
	// (user-account only; contributes to the key).
	AccountLogin string
}

// Sentinel errors. Returned errors wrap one of these (or an error of the
// canonicalisation packages) with context.
var (
	// ErrUnknownKind reports a kind this package does not know.
	ErrUnknownKind = errors.New("unknown observable kind")
	// ErrEmpty reports an empty value.
	ErrEmpty = errors.New("empty value")
	// ErrText reports text that is not valid UTF-8, contains control
	// characters, or is longer than MaxTextLength.
	ErrText = errors.New("invalid text (not UTF-8, control characters, or too long)")
	// ErrASNumber reports an invalid autonomous system number.
	ErrASNumber = errors.New("invalid autonomous system number")
	// ErrNoIdentity reports an observable without any ID-contributing
	// property (a file without hashes and name, a user-account without
	// user_id and login).
	ErrNoIdentity = errors.New("no identifying property")
	// ErrHashAlgorithm reports a hashes entry whose algorithm name is not
	// recognised or does not match its digest.
	ErrHashAlgorithm = errors.New("hash algorithm not recognised or not matching the digest")
)

// MaxTextLength bounds free-text values (user agents, signatures, account
// names, file names, serial numbers), in octets.
const MaxTextLength = 8192

// Canonicalize returns the canonical observable of the given kind for a raw
// value:
//
//   - ipv4-addr, ipv6-addr: an address or CIDR prefix; the kind of the result
//     follows the canonical address, whichever IP kind was asked for (an
//     IPv4-mapped IPv6 address is an ipv4-addr), as ParseIP does;
//   - domain-name, host: a domain name (package domain);
//   - url: an absolute URL (package urlnorm);
//   - email-addr: an address (package email);
//   - mac-addr: a MAC address (package mac);
//   - file, x509-certificate: a hash or fingerprint (package hash); the
//     result has Hashes set to that one hash;
//   - autonomous-system: "15169", "AS15169" or asdot "1.10";
//   - user-account: the user_id, trimmed, case kept (use NewUserAccount to
//     give account_type and account_login);
//   - alert-signature: signature text, white space runs collapsed;
//   - user-agent: the User-Agent string, trimmed.
func Canonicalize(kind Kind, raw string) (Observable, error) {
	if !kind.Valid() {
		return Observable{}, fmt.Errorf("observable: canonicalise: %w", ErrUnknownKind)
	}
	o, err := canonicalize(kind, raw)
	if err != nil {
		return Observable{}, fmt.Errorf("observable: canonicalise %s: %w", kind, err)
	}
	return o, nil
}

func canonicalize(kind Kind, raw string) (Observable, error) {
	switch kind {
	case KindIPv4Addr, KindIPv6Addr:
		return parseIP(raw)
	case KindDomainName, KindHost:
		v, err := domain.Canonical(raw)
		return Observable{Kind: kind, Value: v}, err
	case KindURL:
		v, err := urlnorm.Canonical(raw)
		return Observable{Kind: kind, Value: v}, err
	case KindEmailAddr:
		v, err := email.Canonical(raw)
		return Observable{Kind: kind, Value: v}, err
	case KindMACAddr:
		v, err := mac.Canonical(raw)
		return Observable{Kind: kind, Value: v}, err
	case KindFile, KindX509Certificate:
		alg, h, err := hash.Canonical(raw)
		if err != nil {
			return Observable{}, err
		}
		return Observable{Kind: kind, Value: h, Hashes: map[string]string{string(alg): h}}, nil
	case KindAutonomousSystem:
		n, err := parseASN(raw)
		if err != nil {
			return Observable{}, err
		}
		return Observable{Kind: kind, Value: strconv.FormatUint(uint64(n), 10)}, nil
	case KindUserAccount:
		v, err := cleanText(raw, false)
		return Observable{Kind: kind, Value: v}, err
	case KindAlertSignature:
		v, err := cleanText(raw, true)
		return Observable{Kind: kind, Value: v}, err
	case KindUserAgent:
		v, err := cleanText(raw, false)
		return Observable{Kind: kind, Value: v}, err
	}
	return Observable{}, ErrUnknownKind
}

// ParseIP returns an ipv4-addr or ipv6-addr observable for an address or CIDR
// prefix, choosing the kind from the canonical form: "::ffff:192.0.2.1" is the
// ipv4-addr "192.0.2.1". A prefix covering one address is the address.
func ParseIP(raw string) (Observable, error) {
	o, err := parseIP(raw)
	if err != nil {
		return Observable{}, fmt.Errorf("observable: parse IP: %w", err)
	}
	return o, nil
}

func parseIP(raw string) (Observable, error) {
	v, err := ipaddr.Canonical(raw)
	if err != nil {
		return Observable{}, err
	}
	if strings.Contains(v, ":") {
		return Observable{Kind: KindIPv6Addr, Value: v}, nil
	}
	return Observable{Kind: KindIPv4Addr, Value: v}, nil
}

// parseASN parses "15169", "AS15169" (any case, optional space) or the asdot
// form "1.10" (RFC 5396) into a 32-bit AS number.
func parseASN(raw string) (uint32, error) {
	s := strings.TrimSpace(raw)
	if len(s) >= 2 && strings.EqualFold(s[:2], "AS") {
		s = strings.TrimLeft(s[2:], " ")
	}
	if s == "" {
		return 0, ErrEmpty
	}
	if hi, lo, ok := strings.Cut(s, "."); ok {
		h, err1 := strconv.ParseUint(hi, 10, 16)
		l, err2 := strconv.ParseUint(lo, 10, 16)
		if err1 != nil || err2 != nil || !isDigits(hi) || !isDigits(lo) {
			return 0, ErrASNumber
		}
		return uint32(h<<16 | l), nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || !isDigits(s) {
		// Never wrap err: strconv messages quote the input.
		return 0, ErrASNumber
	}
	return uint32(n), nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// cleanText trims s and checks it is non-empty, valid UTF-8, without control
// characters and at most MaxTextLength octets. With collapse, every run of
// white space (including tabs and newlines) becomes one space.
func cleanText(s string, collapse bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", ErrText
	}
	if collapse {
		s = strings.Join(strings.Fields(s), " ")
	} else {
		s = strings.TrimSpace(s)
	}
	if s == "" {
		return "", ErrEmpty
	}
	if len(s) > MaxTextLength {
		return "", ErrText
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", ErrText
		}
	}
	return s, nil
}

// NewFile returns a file observable from hashes (algorithm name to digest)
// and/or a file name; at least one must be given. Algorithm names may be STIX
// names or the spellings package hash accepts as prefixes ("sha256", "md5");
// each digest is canonicalised and must match its algorithm. The name is kept
// exactly (file names are case-sensitive and may have spaces) but must be
// valid UTF-8 without control characters.
func NewFile(hashes map[string]string, name string) (Observable, error) {
	o, err := newHashed(KindFile, hashes)
	if err != nil {
		return Observable{}, fmt.Errorf("observable: new file: %w", err)
	}
	if name != "" {
		if err := checkExactText(name); err != nil {
			return Observable{}, fmt.Errorf("observable: new file: name: %w", err)
		}
		o.Name = name
	}
	if len(o.Hashes) == 0 && o.Name == "" {
		return Observable{}, fmt.Errorf("observable: new file: %w", ErrNoIdentity)
	}
	return o, nil
}

// NewX509Certificate returns an x509-certificate observable from certificate
// hashes (fingerprints) and/or a serial number; at least one must be given.
// The serial number is trimmed but otherwise kept as the source wrote it
// (STIX does not fix a notation).
func NewX509Certificate(hashes map[string]string, serial string) (Observable, error) {
	o, err := newHashed(KindX509Certificate, hashes)
	if err != nil {
		return Observable{}, fmt.Errorf("observable: new x509-certificate: %w", err)
	}
	if strings.TrimSpace(serial) != "" {
		s, err := cleanText(serial, false)
		if err != nil {
			return Observable{}, fmt.Errorf("observable: new x509-certificate: serial number: %w", err)
		}
		o.SerialNumber = s
	}
	if len(o.Hashes) == 0 && o.SerialNumber == "" {
		return Observable{}, fmt.Errorf("observable: new x509-certificate: %w", ErrNoIdentity)
	}
	return o, nil
}

func newHashed(kind Kind, hashes map[string]string) (Observable, error) {
	o := Observable{Kind: kind}
	if len(hashes) == 0 {
		return o, nil
	}
	o.Hashes = make(map[string]string, len(hashes))
	for name, digest := range hashes {
		alg, h, err := hash.Canonical(name + ":" + digest)
		if err != nil {
			return Observable{}, fmt.Errorf("%w: %w", ErrHashAlgorithm, err)
		}
		if prev, dup := o.Hashes[string(alg)]; dup && prev != h {
			return Observable{}, ErrHashAlgorithm
		}
		o.Hashes[string(alg)] = h
	}
	_, o.Value = chooseOneHash(o.Hashes)
	return o, nil
}

// checkExactText checks a value kept verbatim: valid UTF-8, no control
// characters, at most MaxTextLength octets, not only white space.
func checkExactText(s string) error {
	if !utf8.ValidString(s) || len(s) > MaxTextLength {
		return ErrText
	}
	if strings.TrimSpace(s) == "" {
		return ErrEmpty
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return ErrText
		}
	}
	return nil
}

// NewUserAccount returns a user-account observable. userID is the account's
// identifier on its system (UID, SID, account name); login is the login
// string when it differs from userID; accountType is a STIX account-type-ov
// value ("unix", "windows-local", "windows-domain", "ldap", ...) or empty.
// userID and login are trimmed and keep their case; accountType is
// lower-cased. At least one of userID and login must be given.
func NewUserAccount(accountType, userID, login string) (Observable, error) {
	o := Observable{Kind: KindUserAccount}
	var err error
	if strings.TrimSpace(userID) != "" {
		if o.Value, err = cleanText(userID, false); err != nil {
			return Observable{}, fmt.Errorf("observable: new user-account: user id: %w", err)
		}
	}
	if strings.TrimSpace(login) != "" {
		if o.AccountLogin, err = cleanText(login, false); err != nil {
			return Observable{}, fmt.Errorf("observable: new user-account: login: %w", err)
		}
	}
	if o.Value == "" && o.AccountLogin == "" {
		return Observable{}, fmt.Errorf("observable: new user-account: %w", ErrNoIdentity)
	}
	if strings.TrimSpace(accountType) != "" {
		t, err := cleanText(accountType, false)
		if err != nil {
			return Observable{}, fmt.Errorf("observable: new user-account: account type: %w", err)
		}
		o.AccountType = strings.ToLower(t)
	}
	return o, nil
}

// Parse is Canonicalize, with kind "ip" meaning ipv4-addr or ipv6-addr
// (ParseIP): the form profiles, the API and the tools name kinds in.
func Parse(kind, raw string) (Observable, error) {
	if kind == "ip" {
		return ParseIP(raw)
	}
	return Canonicalize(Kind(kind), raw)
}
