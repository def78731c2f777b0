package transform

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/heimdallhub/heimdall/internal/pii/keys"
	"github.com/heimdallhub/heimdall/internal/pii/policy"
)

const testPolicy = `
version: "2026-11-27.1"
levels: [UNCLASSIFIED, CONFIDENTIAL, SECRET, TOP SECRET]
default: {level: TOP SECRET, action: drop}
profiles:
  "*":
    fields:
      src_ip:     {level: SECRET, action: pseudonymise, kind: ip}
      dst_ip:     {level: SECRET, action: pseudonymise, kind: ip}
      user.email: {level: SECRET, action: pseudonymise, kind: email}
      mail:       {level: SECRET, action: mask, mask: {keep_domain: true}}
      client.ip:  {level: SECRET, action: mask, mask: {ipv4_prefix: 24, ipv6_prefix: 48}}
      card:       {level: SECRET, action: mask, mask: {keep_last: 4}}
      secret:     {level: SECRET, action: encrypt}
      other:      {level: SECRET, action: encrypt}
      dns.query:  {level: CONFIDENTIAL, action: tokenise, kind: domain}
      dns.rcode:  {level: UNCLASSIFIED, action: keep}
`

func randKey(t testing.TB) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func master(t testing.TB) keys.MasterKey {
	t.Helper()
	m, err := keys.NewMasterKey(randKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type fixture struct {
	pol   *policy.Policy
	ps    *keys.PseudonymKeys
	store *KeyStore
	tr    *Transformer
	mk    keys.MasterKey
}

func setup(t testing.TB) fixture {
	t.Helper()
	pol, err := policy.Parse([]byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := keys.NewPseudonymKeys("pk1", map[string][]byte{"pk1": randKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	mk := master(t)
	store, err := NewKeyStore(mk, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{pol: pol, ps: ps, store: store, tr: New(ps, store), mk: mk}
}

func (f fixture) apply(t testing.TB, field, rec, value string) (string, Meta, bool) {
	t.Helper()
	out, meta, drop, err := f.tr.Apply(f.pol.Rule("zeek", field), rec, field, value)
	if err != nil {
		t.Fatalf("Apply(%s): %v", field, err)
	}
	if meta.PolicyVersion != "2026-11-27.1" {
		t.Fatalf("Apply(%s): policy version not recorded", field)
	}
	return out, meta, drop
}

func TestPseudonymsJoin(t *testing.T) {
	f := setup(t)
	a, meta, _ := f.apply(t, "src_ip", "r1", "192.0.2.7")
	b, _, _ := f.apply(t, "src_ip", "r2", "192.0.2.7")
	c, _, _ := f.apply(t, "dst_ip", "r3", "::ffff:192.0.2.7") // same kind, canonicalised
	d, _, _ := f.apply(t, "src_ip", "r1", "192.0.2.8")
	if a != b || a != c {
		t.Fatalf("equal inputs must give equal pseudonyms across src_ip/dst_ip: %s %s %s", a, b, c)
	}
	if a == d {
		t.Fatal("different inputs gave equal pseudonyms")
	}
	if !strings.HasPrefix(a, "ps:pk1:") || meta.KeyID != "pk1" || meta.Action != policy.ActionPseudonymise {
		t.Fatalf("format/meta: %s %+v", a, meta)
	}
	if e, _, _ := f.apply(t, "user.email", "r1", "192.0.2.7"); e == a {
		t.Fatal("different kinds must not collide")
	}
	// A different key version gives a different pseudonym.
	k1, err := f.ps.Get("pk1")
	if err != nil {
		t.Fatal(err)
	}
	ps2, err2 := keys.NewPseudonymKeys("pk2", map[string][]byte{"pk1": k1, "pk2": randKey(t)})
	if err2 != nil {
		t.Fatal(err2)
	}
	old, err := Pseudonym(ps2, "pk1", "ip", "192.0.2.7")
	if err != nil || old != a {
		t.Fatalf("recompute with pk1: %v", err)
	}
	if n, _ := Pseudonym(ps2, "pk2", "ip", "192.0.2.7"); n == a || !strings.HasPrefix(n, "ps:pk2:") {
		t.Fatal("pk2 pseudonym must differ and carry its version")
	}
}

func TestPseudonymIsNotPlainHash(t *testing.T) {
	f := setup(t)
	for field, v := range map[string]string{"src_ip": "10.1.2.3", "user.email": "alice@example.org"} {
		ps, _, _ := f.apply(t, field, "r", v)
		digest := ps[strings.LastIndexByte(ps, ':')+1:]
		raw, err := base64.RawURLEncoding.DecodeString(digest)
		if err != nil {
			t.Fatal(err)
		}
		for _, pre := range []string{"", "ip", "ip:", "ip\x00", "email", "email:", "email\x00", field, field + ":", "heimdall/pii/ps/v1\x00ip\x00", "heimdall/pii/ps/v1\x00email\x00"} {
			h := sha256.Sum256([]byte(pre + v))
			if string(h[:]) == string(raw) || strings.Contains(ps, hex.EncodeToString(h[:])) ||
				strings.Contains(ps, base64.RawURLEncoding.EncodeToString(h[:])) {
				t.Fatalf("%s pseudonym is SHA-256 of %q+value", field, pre)
			}
		}
		if strings.Contains(ps, v) {
			t.Fatal("pseudonym contains the value")
		}
	}
}

func TestEncryptBindsRecordAndField(t *testing.T) {
	f := setup(t)
	ct, meta, _ := f.apply(t, "secret", "rec-1", "s3cr3t value")
	if !strings.HasPrefix(ct, "enc:v1:"+meta.KeyID+":") || !strings.HasPrefix(meta.KeyID, "dk-") || meta.MasterKeyID != f.mk.ID() {
		t.Fatalf("envelope/meta: %s %+v", ct, meta)
	}
	if strings.Contains(ct, "s3cr3t") {
		t.Fatal("plaintext in ciphertext")
	}
	pt, err := f.tr.Decrypt("rec-1", "secret", ct)
	if err != nil || pt != "s3cr3t value" {
		t.Fatalf("decrypt: %q %v", pt, err)
	}
	// Deterministic per record and field (idempotent re-ingest), unrelated
	// across records.
	if ct2, _, _ := f.apply(t, "secret", "rec-1", "s3cr3t value"); ct2 != ct {
		t.Fatal("encrypt must be deterministic for one record and field")
	}
	if ct3, _, _ := f.apply(t, "secret", "rec-2", "s3cr3t value"); ct3 == ct || ct3[len(ct3)-16:] == ct[len(ct)-16:] {
		t.Fatal("equal values in different records must seal to unrelated ciphertexts")
	}
	if _, err := f.tr.Decrypt("rec-2", "secret", ct); !errors.Is(err, ErrCiphertext) {
		t.Fatalf("moved to another record: %v", err)
	}
	if _, err := f.tr.Decrypt("rec-1", "other", ct); !errors.Is(err, ErrCiphertext) {
		t.Fatalf("moved to another field: %v", err)
	}
	// Ambiguity of the AD: ("rec-1s", "ecret") must not equal ("rec-1", "secret").
	if _, err := f.tr.Decrypt("rec-1s", "ecret", ct); err == nil {
		t.Fatal("associated data is ambiguous")
	}
	id, raw, _ := splitEnvelope(encPrefix, ct)
	for i := range raw {
		tam := append([]byte(nil), raw...)
		tam[i] ^= 0x01
		_, err := f.tr.Decrypt("rec-1", "secret", encPrefix+id+":"+base64.RawURLEncoding.EncodeToString(tam))
		if err == nil {
			t.Fatalf("tampered byte %d accepted", i)
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Fatal("error leaks value")
		}
	}
	for _, bad := range []string{"", "enc:v1:", "enc:v1:dk-x:", "enc:v1:dk-nope:AAAA", "enc:v2:" + ct[7:], "enc:v1:" + id + ":***"} {
		if _, err := f.tr.Decrypt("rec-1", "secret", bad); err == nil {
			t.Fatalf("malformed %q accepted", bad)
		}
	}
}

func TestRewrap(t *testing.T) {
	f := setup(t)
	ct, _, _ := f.apply(t, "secret", "rec-1", "v1")
	tok, _, _ := f.apply(t, "dns.query", "rec-1", "example.org")
	if _, err := f.store.NewDataKey(PurposeEncrypt); err != nil {
		t.Fatal(err)
	}
	ct2, _, _ := f.apply(t, "secret", "rec-2", "v2")
	before := f.store.Wrapped()

	newMK := master(t)
	if err := f.store.Rewrap(newMK); err != nil {
		t.Fatal(err)
	}
	after := f.store.Wrapped()
	if len(after) != len(before) || len(after) != 3 {
		t.Fatalf("key count %d -> %d", len(before), len(after))
	}
	for i, w := range after {
		if w.MasterKeyID != newMK.ID() || w.MasterKeyID == f.mk.ID() {
			t.Fatalf("data key %s still wrapped by old master", w.ID)
		}
		if w.ID != before[i].ID || string(w.Wrapped) == string(before[i].Wrapped) {
			t.Fatalf("data key %s not re-wrapped", w.ID)
		}
	}
	// Fresh store from storage with only the new master: old data still decrypts.
	reopened, err := NewKeyStore(newMK, after)
	if err != nil {
		t.Fatal(err)
	}
	tr := New(f.ps, reopened)
	for rec, c := range map[string]string{"rec-1": ct, "rec-2": ct2} {
		if _, err := tr.Decrypt(rec, "secret", c); err != nil {
			t.Fatalf("%s after rewrap: %v", rec, err)
		}
	}
	if v, err := tr.Detokenise("domain", tok); err != nil || v != "example.org" {
		t.Fatalf("detokenise after rewrap: %v", err)
	}
	// The old master can no longer open the stored keys.
	if _, err := NewKeyStore(f.mk, after); !errors.Is(err, ErrWrongMaster) {
		t.Fatalf("old master opened re-wrapped keys: %v", err)
	}
	// Lying about the master id does not help either.
	forged := append([]WrappedKey(nil), after...)
	for i := range forged {
		forged[i].MasterKeyID = f.mk.ID()
	}
	if _, err := NewKeyStore(f.mk, forged); !errors.Is(err, ErrUnwrapFailed) {
		t.Fatalf("old master unwrapped re-wrapped keys: %v", err)
	}
	// Swapping wrapped blobs between ids is refused (id bound as AD).
	swapped := append([]WrappedKey(nil), after...)
	swapped[0].Wrapped, swapped[2].Wrapped = swapped[2].Wrapped, swapped[0].Wrapped
	if _, err := NewKeyStore(newMK, swapped); err == nil {
		t.Fatal("swapped wrapped keys accepted")
	}
	if _, err := RewrapAll(f.mk, newMK, after); !errors.Is(err, ErrWrongMaster) {
		t.Fatalf("RewrapAll with wrong old master: %v", err)
	}
}

func TestTokenise(t *testing.T) {
	f := setup(t)
	a, meta, _ := f.apply(t, "dns.query", "r1", "example.org")
	b, _, _ := f.apply(t, "dns.query", "r2", "example.org")
	c, _, _ := f.apply(t, "dns.query", "r2", "example.net")
	if a != b || a == c {
		t.Fatal("tokenise must be deterministic and distinguish values")
	}
	if !strings.HasPrefix(a, "tok:v1:"+meta.KeyID+":") || !strings.HasPrefix(meta.KeyID, "tk-") {
		t.Fatalf("format: %s", a)
	}
	v, err := f.tr.Detokenise("domain", a)
	if err != nil || v != "example.org" {
		t.Fatalf("detokenise: %q %v", v, err)
	}
	if _, err := f.tr.Detokenise("ip", a); err == nil {
		t.Fatal("token of another kind accepted")
	}
}

func TestMasks(t *testing.T) {
	f := setup(t)
	cases := []struct {
		field, in, out string
		redacted       bool
	}{
		{"mail", "Alice.Smith@Example.ORG", "***@example.org", false},
		{"mail", "no-at-sign", Redacted, true},
		{"mail", "@example.org", Redacted, true},
		{"client.ip", "192.0.2.77", "192.0.2.0/24", false},
		{"client.ip", "::ffff:192.0.2.77", "192.0.2.0/24", false},
		{"client.ip", "2001:db8:1:2::7", "2001:db8:1::/48", false},
		{"client.ip", "fe80::1%eth0", "fe80::/48", false},
		{"client.ip", "not-an-ip", Redacted, true},
		{"card", "4111111111111111", "***1111", false},
		{"card", "1234567", Redacted, true},
		{"card", "ßßßßäöüé", "***äöüé", false},
	}
	for _, c := range cases {
		out, meta, drop := f.apply(t, c.field, "r", c.in)
		if drop || out != c.out || meta.Redacted != c.redacted {
			t.Errorf("mask %s(%q) = %q redacted=%v, want %q %v", c.field, c.in, out, meta.Redacted, c.out, c.redacted)
		}
	}
	if out, ok := ApplyMask(policy.Mask{IPv4Prefix: 24}, "2001:db8::1"); ok || out != Redacted {
		t.Fatal("family without prefix must be redacted")
	}
}

func TestUnknownFieldDroppedAtHighestLevel(t *testing.T) {
	f := setup(t)
	out, meta, drop := f.apply(t, "http.cookie", "r", "session=abc")
	if !drop || out != "" || meta.Level != "TOP SECRET" || meta.Action != policy.ActionDrop {
		t.Fatalf("got %q %+v drop=%v", out, meta, drop)
	}
	out, meta, drop = f.apply(t, "dns.rcode", "r", "NXDOMAIN")
	if drop || out != "NXDOMAIN" || meta.Level != "UNCLASSIFIED" {
		t.Fatal("keep broken")
	}
}

func TestFailClosed(t *testing.T) {
	tr := New(nil, nil)
	for _, a := range []policy.Action{policy.ActionPseudonymise, policy.ActionEncrypt, policy.ActionTokenise, "bogus", ""} {
		out, _, drop, err := tr.Apply(policy.Rule{Action: a, Kind: "ip"}, "r", "f.path", "10.0.0.1")
		if err == nil || !drop || out != "" {
			t.Fatalf("%q: must fail closed", a)
		}
		if strings.Contains(err.Error(), "10.0.0.1") || !strings.Contains(err.Error(), "f.path") {
			t.Fatalf("%q: error must name the field, not the value: %v", a, err)
		}
	}
	if _, err := NewKeyStore(keys.MasterKey{}, nil); !errors.Is(err, keys.ErrMissingKey) {
		t.Fatalf("zero master key: %v", err)
	}
}

func FuzzApply(f *testing.F) {
	fx := setup(f)
	for _, s := range []string{"", "192.0.2.1", "alice@example.org", "2001:db8::1", "4111111111111111", "\xff\xfe", "a@", "@"} {
		f.Add("src_ip", "rec", s)
		f.Add("mail", "rec", s)
		f.Add("client.ip", "r", s)
		f.Add("card", "", s)
		f.Add("secret", "rec", s)
		f.Add("dns.query", "rec", s)
	}
	f.Fuzz(func(t *testing.T, field, rec, value string) {
		rule := fx.pol.Rule("zeek", field)
		out, meta, drop, err := fx.tr.Apply(rule, rec, field, value)
		if err != nil {
			if value != "" && strings.Contains(err.Error(), value) && !strings.Contains(field, value) {
				t.Fatalf("error contains the value")
			}
			return
		}
		if meta.PolicyVersion == "" {
			t.Fatal("no policy version")
		}
		switch rule.Action {
		case policy.ActionDrop:
			if !drop || out != "" {
				t.Fatal("drop leaked")
			}
		case policy.ActionEncrypt:
			pt, err := fx.tr.Decrypt(rec, field, out)
			if err != nil || pt != value {
				t.Fatalf("round trip: %v", err)
			}
		case policy.ActionTokenise:
			pt, err := fx.tr.Detokenise(rule.Kind, out)
			if err != nil || pt != value {
				t.Fatalf("round trip: %v", err)
			}
		case policy.ActionPseudonymise:
			if !strings.HasPrefix(out, "ps:pk1:") || len(out) != len("ps:pk1:")+43 {
				t.Fatalf("pseudonym format %q", out)
			}
		}
	})
}

func benchAction(b *testing.B, field, value string) {
	fx := setup(b)
	rule := fx.pol.Rule("zeek", field)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, _, err := fx.tr.Apply(rule, "rec-0001", field, value); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkApplyDrop(b *testing.B)         { benchAction(b, "unknown", "x") }
func BenchmarkApplyKeep(b *testing.B)         { benchAction(b, "dns.rcode", "NXDOMAIN") }
func BenchmarkApplyMaskEmail(b *testing.B)    { benchAction(b, "mail", "alice@example.org") }
func BenchmarkApplyMaskIP(b *testing.B)       { benchAction(b, "client.ip", "192.0.2.77") }
func BenchmarkApplyMaskKeepLast(b *testing.B) { benchAction(b, "card", "4111111111111111") }
func BenchmarkApplyPseudonymise(b *testing.B) { benchAction(b, "src_ip", "192.0.2.77") }
func BenchmarkApplyEncrypt(b *testing.B)      { benchAction(b, "secret", "alice@example.org") }
func BenchmarkApplyTokenise(b *testing.B)     { benchAction(b, "dns.query", "www.example.org") }

func BenchmarkDecrypt(b *testing.B) {
	fx := setup(b)
	ct, _, _, err := fx.tr.Apply(fx.pol.Rule("zeek", "secret"), "rec", "secret", "alice@example.org")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fx.tr.Decrypt("rec", "secret", ct); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPreviousMasterKeysDuringRotation(t *testing.T) {
	f := setup(t)
	ct, _, _ := f.apply(t, "secret", "rec-1", "v1")
	stored := f.store.Wrapped()

	// A process restarted with the new master key and the old one as
	// previous opens everything, and new keys are wrapped by the new one.
	newMK := master(t)
	s, err := NewKeyStore(newMK, stored, f.mk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(f.ps, s).Decrypt("rec-1", "secret", ct); err != nil {
		t.Fatalf("decrypt with previous master: %v", err)
	}
	if s.MasterKeyID() != newMK.ID() {
		t.Fatal("new master is not current")
	}
	changed, err := s.RewrapStale()
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != len(stored) {
		t.Fatalf("re-wrapped %d of %d stale keys", len(changed), len(stored))
	}
	for _, w := range s.Wrapped() {
		if w.MasterKeyID != newMK.ID() {
			t.Fatalf("data key %s still wrapped by %s", w.ID, w.MasterKeyID)
		}
	}
	if again, err := s.RewrapStale(); err != nil || len(again) != 0 {
		t.Fatalf("second RewrapStale changed %d keys (%v)", len(again), err)
	}
	// Only the new master is needed now.
	only, err := NewKeyStore(newMK, s.Wrapped())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(f.ps, only).Decrypt("rec-1", "secret", ct); err != nil {
		t.Fatalf("decrypt after rotation: %v", err)
	}
	// Without the previous master, keys it still wraps are refused.
	if _, err := NewKeyStore(newMK, stored); !errors.Is(err, ErrWrongMaster) {
		t.Fatalf("opened keys of an unknown master: %v", err)
	}
}

func TestLoadKeysOfAnotherProcess(t *testing.T) {
	f := setup(t)
	other, err := NewKeyStore(f.mk, f.store.Wrapped())
	if err != nil {
		t.Fatal(err)
	}
	id, err := other.NewDataKey(PurposeEncrypt)
	if err != nil {
		t.Fatal(err)
	}
	ct, _, _, err := New(f.ps, other).Apply(f.pol.Rule("zeek", "secret"), "rec-9", "secret", "v9")
	if err != nil {
		t.Fatal(err)
	}
	if f.store.Has(id) {
		t.Fatal("key known before Load")
	}
	if _, err := f.tr.Decrypt("rec-9", "secret", ct); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
	if err := f.store.Load(other.Wrapped()); err != nil {
		t.Fatal(err)
	}
	if v, err := f.tr.Decrypt("rec-9", "secret", ct); err != nil || v != "v9" {
		t.Fatalf("after Load: %q %v", v, err)
	}
	// A token is not an encryption key and vice versa.
	tok, _, _ := f.apply(t, "dns.query", "r", "example.org")
	tid, body, _ := splitEnvelope(tokPrefix, tok)
	if _, err := f.tr.Decrypt("r", "dns.query", encPrefix+tid+":"+b64.EncodeToString(body)); err == nil {
		t.Fatal("tokenisation key used for decryption")
	}
}
