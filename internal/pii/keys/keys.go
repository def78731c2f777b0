package keys

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// MinKeyBytes is the minimum length of any secret key accepted here.
const MinKeyBytes = 32

// Errors returned by this package. None of them carries key material.
var (
	ErrMissingKey = errors.New("pii key missing")
	ErrWeakKey    = errors.New("pii key refused as weak")
	ErrBadKey     = errors.New("pii key malformed")
	ErrNoVersion  = errors.New("pii key version unknown")
)

// MasterKey is a key-encryption key with its id. Its formatting methods never
// print the secret.
type MasterKey struct {
	id     string
	secret []byte
}

// NewMasterKey checks secret (raw bytes) and derives its id.
func NewMasterKey(secret []byte) (MasterKey, error) {
	if err := CheckStrength(secret); err != nil {
		return MasterKey{}, err
	}
	s := append([]byte(nil), secret...)
	return MasterKey{id: masterKeyID(s), secret: s}, nil
}

// ID is the stable, non-secret identifier of the key.
func (m MasterKey) ID() string { return m.id }

// Secret returns a copy of the key bytes.
func (m MasterKey) Secret() []byte { return append([]byte(nil), m.secret...) }

// String never prints the secret.
func (m MasterKey) String() string { return "MasterKey(" + m.id + ")" }

// GoString never prints the secret.
func (m MasterKey) GoString() string { return m.String() }

func masterKeyID(secret []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("heimdall/pii/master-key-id/v1"))
	return "mk-" + hex.EncodeToString(mac.Sum(nil)[:8])
}

// Source yields the current master key. Implementations: EnvSource; KMS and
// Vault later.
type Source interface {
	MasterKey(ctx context.Context) (MasterKey, error)
}

// EnvSource is a Source backed by the value of an environment variable.
type EnvSource struct {
	key MasterKey
}

// NewEnvSource validates the raw environment value (base64 of >= 32 random
// bytes). name is the variable name, used only in error messages.
func NewEnvSource(name, raw string) (*EnvSource, error) {
	b, err := DecodeKey(name, raw)
	if err != nil {
		return nil, err
	}
	k, err := NewMasterKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &EnvSource{key: k}, nil
}

// FromEnv reads the variable through lookup (cmd passes the process environment).
func FromEnv(lookup func(string) (string, bool), name string) (*EnvSource, error) {
	raw, ok := lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w: environment variable %s is not set", ErrMissingKey, name)
	}
	return NewEnvSource(name, raw)
}

// MasterKey implements Source.
func (s *EnvSource) MasterKey(ctx context.Context) (MasterKey, error) {
	if err := ctx.Err(); err != nil {
		return MasterKey{}, err
	}
	return s.key, nil
}

// DecodeKey decodes a base64 key value (standard or URL alphabet, padded or
// not) and checks its strength. label names the key in errors.
func DecodeKey(label, raw string) ([]byte, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, fmt.Errorf("%w: %s is empty", ErrMissingKey, label)
	}
	var b []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err = enc.DecodeString(raw); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not base64", ErrBadKey, label)
	}
	if err := CheckStrength(b); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	return b, nil
}

// CheckStrength refuses keys that are short or obviously not random. It is a
// sanity check against configuration mistakes, not a randomness test.
func CheckStrength(b []byte) error {
	if len(b) < MinKeyBytes {
		return fmt.Errorf("%w: %d bytes, need at least %d random bytes", ErrWeakKey, len(b), MinKeyBytes)
	}
	var seen [256]bool
	distinct := 0
	text := true
	for _, c := range b {
		if !seen[c] {
			seen[c] = true
			distinct++
		}
		if c < 0x20 || c > 0x7e {
			text = false
		}
	}
	if distinct == 1 {
		return fmt.Errorf("%w: all bytes are the same", ErrWeakKey)
	}
	for period := 1; period <= len(b)/2; period++ {
		if repeats(b, period) {
			return fmt.Errorf("%w: bytes repeat with period %d", ErrWeakKey, period)
		}
	}
	if arithmetic(b) {
		return fmt.Errorf("%w: bytes form a sequence", ErrWeakKey)
	}
	if distinct < len(b)/2 && distinct < 16 {
		return fmt.Errorf("%w: only %d distinct byte values", ErrWeakKey, distinct)
	}
	if text {
		return fmt.Errorf("%w: bytes are printable text, not random bytes (base64-encode random bytes instead)", ErrWeakKey)
	}
	return nil
}

func repeats(b []byte, period int) bool {
	for i := period; i < len(b); i++ {
		if b[i] != b[i-period] {
			return false
		}
	}
	return true
}

func arithmetic(b []byte) bool {
	d := b[1] - b[0]
	for i := 2; i < len(b); i++ {
		if b[i]-b[i-1] != d {
			return false
		}
	}
	return true
}

var versionRE = regexp.MustCompile(`^pk([1-9][0-9]{0,8})$`)

// PseudonymKeys is an immutable, versioned key set for the pseudonymisation
// PRF. The current version signs new pseudonyms; older versions stay
// available to recompute pseudonyms during a migration.
type PseudonymKeys struct {
	current string
	keys    map[string][]byte
}

// NewPseudonymKeys builds a key set; current must be one of the versions.
func NewPseudonymKeys(current string, keys map[string][]byte) (*PseudonymKeys, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no pseudonymisation keys", ErrMissingKey)
	}
	var errs []error
	ks := &PseudonymKeys{current: current, keys: make(map[string][]byte, len(keys))}
	for v, k := range keys {
		if !versionRE.MatchString(v) {
			errs = append(errs, fmt.Errorf("%w: version %q must look like pk1 or pk2", ErrBadKey, v))
			continue
		}
		if err := CheckStrength(k); err != nil {
			errs = append(errs, fmt.Errorf("pseudonymisation key %s: %w", v, err))
			continue
		}
		ks.keys[v] = append([]byte(nil), k...)
	}
	if _, ok := keys[current]; !ok {
		errs = append(errs, fmt.Errorf("%w: current version %q is not in the key set", ErrNoVersion, current))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return ks, nil
}

// ParsePseudonymKeys parses "pk1=<base64>,pk2=<base64>" (e.g. an environment
// value). The highest version is current.
func ParsePseudonymKeys(label, raw string) (*PseudonymKeys, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, fmt.Errorf("%w: %s is empty", ErrMissingKey, label)
	}
	keys := map[string][]byte{}
	var errs []error
	for i, part := range strings.Split(raw, ",") {
		v, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			errs = append(errs, fmt.Errorf("%w: %s entry %d is not version=base64", ErrBadKey, label, i+1))
			continue
		}
		if !versionRE.MatchString(v) {
			errs = append(errs, fmt.Errorf("%w: %s entry %d: version must look like pk1 or pk2", ErrBadKey, label, i+1))
			continue
		}
		if _, dup := keys[v]; dup {
			errs = append(errs, fmt.Errorf("%w: %s: version %s given twice", ErrBadKey, label, v))
			continue
		}
		b, err := DecodeKey(label+" "+v, val)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keys[v] = b
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	vs := make([]string, 0, len(keys))
	for v := range keys {
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool { return versionNumber(vs[i]) < versionNumber(vs[j]) })
	return NewPseudonymKeys(vs[len(vs)-1], keys)
}

func versionNumber(v string) int {
	m := versionRE.FindStringSubmatch(v)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// Current returns the version and key used for new pseudonyms. The returned
// slice must not be modified.
func (p *PseudonymKeys) Current() (string, []byte) { return p.current, p.keys[p.current] }

// Get returns the key of a version. The returned slice must not be modified.
func (p *PseudonymKeys) Get(version string) ([]byte, error) {
	k, ok := p.keys[version]
	if !ok {
		return nil, fmt.Errorf("%w: pseudonymisation key %q", ErrNoVersion, version)
	}
	return k, nil
}

// String never prints key material.
func (p *PseudonymKeys) String() string {
	return fmt.Sprintf("PseudonymKeys(current=%s, versions=%d)", p.current, len(p.keys))
}
