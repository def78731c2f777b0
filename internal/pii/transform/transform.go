package transform

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/netip"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/heimdallhub/heimdall/internal/pii/keys"
	"github.com/heimdallhub/heimdall/internal/pii/policy"
)

// Meta describes what was done to a field; store it with the event.
type Meta struct {
	PolicyVersion string        // version of the policy applied
	Level         string        // classification level of the field
	Action        policy.Action // action applied
	Kind          string        // pseudonymise/tokenise domain label
	KeyID         string        // pkN (pseudonym), dk-… (encrypt), tk-… (tokenise)
	MasterKeyID   string        // master key wrapping KeyID (encrypt, tokenise)
	Redacted      bool          // mask could not apply; value fully redacted
}

// Errors of Apply, Decrypt and Detokenise. Messages name field paths and
// kinds only, never values.
var (
	ErrAction     = errors.New("pii action not applicable")
	ErrNoKeys     = errors.New("pii keys not configured")
	ErrCiphertext = errors.New("pii ciphertext rejected")
	ErrEncrypt    = errors.New("pii encryption failed")
)

// Redacted is the output of a mask that cannot apply.
const Redacted = "***"

const (
	pseudonymLabel = "heimdall/pii/ps/v1"
	encLabel       = "heimdall/pii/enc/v1"
	tokLabel       = "heimdall/pii/tok/v1"
	encPrefix      = "enc:v1:"
	tokPrefix      = "tok:v1:"
	psPrefix       = "ps:"
)

var b64 = base64.RawURLEncoding

// Transformer applies rules with the configured keys; safe for concurrent use.
type Transformer struct {
	pseudo *keys.PseudonymKeys
	store  *KeyStore
	macs   sync.Pool // HMAC-SHA-256 states under the current pseudonym key
}

// New builds a Transformer. Either argument may be nil; the actions that
// need it then fail with ErrNoKeys.
func New(pseudo *keys.PseudonymKeys, store *KeyStore) *Transformer {
	t := &Transformer{pseudo: pseudo, store: store}
	if pseudo != nil {
		_, key := pseudo.Current()
		t.macs.New = func() any { return hmac.New(sha256.New, key) }
	}
	return t
}

// PseudonymCurrent is the pseudonym of value for kind under the current
// key version (as the pseudonymise action writes it), from pooled HMAC
// states.
func (t *Transformer) PseudonymCurrent(kind, value string) (string, error) {
	if t.pseudo == nil {
		return "", fmt.Errorf("%w: no pseudonymisation keys", ErrNoKeys)
	}
	v, _ := t.pseudo.Current()
	mac := t.macs.Get().(hash.Hash)
	mac.Reset()
	out := sealPseudonym(mac, v, kind, value)
	t.macs.Put(mac)
	return out, nil
}

// Apply transforms one field value according to rule. recordKey identifies
// the record (bound into encryption), fieldPath the field. When drop is true
// the field must not be stored at all.
func (t *Transformer) Apply(rule policy.Rule, recordKey, fieldPath, value string) (out string, meta Meta, drop bool, err error) {
	meta = Meta{PolicyVersion: rule.PolicyVersion, Level: rule.Level, Action: rule.Action, Kind: rule.Kind}
	switch rule.Action {
	case policy.ActionDrop:
		return "", meta, true, nil
	case policy.ActionKeep:
		return value, meta, false, nil
	case policy.ActionMask:
		out, ok := ApplyMask(rule.Mask, value)
		meta.Redacted = !ok
		return out, meta, false, nil
	case policy.ActionPseudonymise:
		if t.pseudo == nil {
			return "", meta, true, fmt.Errorf("%w: field %s: no pseudonymisation keys", ErrNoKeys, fieldPath)
		}
		meta.KeyID, _ = t.pseudo.Current()
		out, err := t.PseudonymCurrent(rule.Kind, value)
		return out, meta, false, err
	case policy.ActionEncrypt:
		if t.store == nil {
			return "", meta, true, fmt.Errorf("%w: field %s: no key store", ErrNoKeys, fieldPath)
		}
		id, a := t.store.activeKey(PurposeEncrypt)
		ct, err := a.EncryptDeterministically([]byte(value), encAD(recordKey, fieldPath))
		if err != nil {
			return "", meta, true, fmt.Errorf("%w: field %s", ErrEncrypt, fieldPath)
		}
		meta.KeyID, meta.MasterKeyID = id, t.store.MasterKeyID()
		return encPrefix + id + ":" + b64.EncodeToString(ct), meta, false, nil
	case policy.ActionTokenise:
		if t.store == nil {
			return "", meta, true, fmt.Errorf("%w: field %s: no key store", ErrNoKeys, fieldPath)
		}
		id, d := t.store.activeKey(PurposeTokenise)
		ct, err := d.EncryptDeterministically([]byte(value), tokAD(rule.Kind))
		if err != nil {
			return "", meta, true, fmt.Errorf("%w: field %s", ErrEncrypt, fieldPath)
		}
		meta.KeyID, meta.MasterKeyID = id, t.store.MasterKeyID()
		return tokPrefix + id + ":" + b64.EncodeToString(ct), meta, false, nil
	default:
		// Unknown action: fail closed.
		return "", meta, true, fmt.Errorf("%w: field %s: unknown action", ErrAction, fieldPath)
	}
}

// Pseudonym computes the pseudonym of value for kind with key version
// version of keys (use it to recompute with an older key during migration).
func Pseudonym(ks *keys.PseudonymKeys, version, kind, value string) (string, error) {
	key, err := ks.Get(version)
	if err != nil {
		return "", err
	}
	return pseudonym(version, key, kind, value), nil
}

func pseudonym(version string, key []byte, kind, value string) string {
	return sealPseudonym(hmac.New(sha256.New, key), version, kind, value)
}

// sealPseudonym computes the pseudonym with a fresh (or reset) HMAC state.
func sealPseudonym(mac hash.Hash, version, kind, value string) string {
	io.WriteString(mac, pseudonymLabel) //nolint:errcheck // hashes never fail
	mac.Write([]byte{0})
	io.WriteString(mac, kind) //nolint:errcheck
	mac.Write([]byte{0})
	io.WriteString(mac, canonical(kind, value)) //nolint:errcheck
	var sum [sha256.Size]byte
	enc := b64.EncodedLen(sha256.Size)
	b := make([]byte, 0, len(psPrefix)+len(version)+1+enc)
	b = append(b, psPrefix...)
	b = append(b, version...)
	b = append(b, ':')
	b = b64.AppendEncode(b, mac.Sum(sum[:0]))
	return string(b)
}

// canonical makes equal values of a kind compare equal before hashing.
func canonical(kind, value string) string {
	switch kind {
	case "ip", "ipv4-addr", "ipv6-addr":
		if a, err := netip.ParseAddr(strings.TrimSpace(value)); err == nil {
			return a.Unmap().String()
		}
	case "email", "email-addr":
		// Mailboxes are case-insensitive in practice: one person, one
		// pseudonym, whatever the spelling.
		return strings.ToLower(strings.TrimSpace(value))
	}
	return value
}

func encAD(recordKey, fieldPath string) []byte {
	ad := make([]byte, 0, len(encLabel)+2*binary.MaxVarintLen64+len(recordKey)+len(fieldPath))
	ad = append(ad, encLabel...)
	ad = binary.AppendUvarint(ad, uint64(len(recordKey)))
	ad = append(ad, recordKey...)
	ad = binary.AppendUvarint(ad, uint64(len(fieldPath)))
	ad = append(ad, fieldPath...)
	return ad
}

func tokAD(kind string) []byte {
	return []byte(tokLabel + "\x00" + kind)
}

func splitEnvelope(prefix, s string) (id string, ct []byte, ok bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return "", nil, false
	}
	id, enc, ok := strings.Cut(rest, ":")
	if !ok || id == "" {
		return "", nil, false
	}
	ct, err := b64.DecodeString(enc)
	if err != nil {
		return "", nil, false
	}
	return id, ct, true
}

// Decrypt reverses encrypt for the same record key and field path.
func (t *Transformer) Decrypt(recordKey, fieldPath, ciphertext string) (string, error) {
	if t.store == nil {
		return "", fmt.Errorf("%w: field %s: no key store", ErrNoKeys, fieldPath)
	}
	id, ct, ok := splitEnvelope(encPrefix, ciphertext)
	if !ok {
		return "", fmt.Errorf("%w: field %s: not an enc:v1 envelope", ErrCiphertext, fieldPath)
	}
	a, ok := t.store.byID(id, PurposeEncrypt)
	if !ok {
		return "", fmt.Errorf("%w: field %s: %w %s", ErrCiphertext, fieldPath, ErrUnknownKey, id)
	}
	pt, err := a.DecryptDeterministically(ct, encAD(recordKey, fieldPath))
	if err != nil {
		return "", fmt.Errorf("%w: field %s: authentication failed (tampered, or another record or field)", ErrCiphertext, fieldPath)
	}
	return string(pt), nil
}

// Detokenise reverses tokenise for a token of the given kind.
func (t *Transformer) Detokenise(kind, token string) (string, error) {
	if t.store == nil {
		return "", fmt.Errorf("%w: kind %s: no key store", ErrNoKeys, kind)
	}
	id, ct, ok := splitEnvelope(tokPrefix, token)
	if !ok {
		return "", fmt.Errorf("%w: kind %s: not a tok:v1 token", ErrCiphertext, kind)
	}
	d, ok := t.store.byID(id, PurposeTokenise)
	if !ok {
		return "", fmt.Errorf("%w: kind %s: %w %s", ErrCiphertext, kind, ErrUnknownKey, id)
	}
	pt, err := d.DecryptDeterministically(ct, tokAD(kind))
	if err != nil {
		return "", fmt.Errorf("%w: kind %s: authentication failed", ErrCiphertext, kind)
	}
	return string(pt), nil
}

// ApplyMask masks value; ok is false when the mask could not apply and the
// value was fully redacted.
func ApplyMask(m policy.Mask, value string) (out string, ok bool) {
	switch {
	case m.KeepDomain:
		at := strings.LastIndexByte(value, '@')
		if at <= 0 || at == len(value)-1 {
			return Redacted, false
		}
		return Redacted + "@" + strings.ToLower(value[at+1:]), true
	case m.IPv4Prefix > 0 || m.IPv6Prefix > 0:
		a, err := netip.ParseAddr(strings.TrimSpace(value))
		if err != nil {
			return Redacted, false
		}
		a = a.WithZone("").Unmap()
		bits := m.IPv6Prefix
		if a.Is4() {
			bits = m.IPv4Prefix
		}
		if bits <= 0 || bits >= a.BitLen() {
			return Redacted, false
		}
		p, err := a.Prefix(bits)
		if err != nil {
			return Redacted, false
		}
		return p.String(), true
	case m.KeepLast > 0:
		n := utf8.RuneCountInString(value)
		// Keep at most half of the value, otherwise redact it all.
		if n < 2*m.KeepLast {
			return Redacted, false
		}
		i := len(value)
		for k := 0; k < m.KeepLast; k++ {
			_, size := utf8.DecodeLastRuneInString(value[:i])
			i -= size
		}
		return Redacted + value[i:], true
	}
	return Redacted, false
}
