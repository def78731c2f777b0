package observable

import (
	"bytes"
	"slices"
	"strconv"

	"github.com/google/uuid"

	"github.com/heimdallhub/heimdall/internal/observable/jcs"
)

// Namespaces of the UUIDv5 in keys.
var (
	// STIXNamespace is the STIX 2.1 namespace for deterministic
	// cyber-observable identifiers (STIX 2.1 section 2.9).
	STIXNamespace = uuid.MustParse("00abedb4-aa42-466c-9c01-fed23315a9b7")
	// HeimdallNamespace is the namespace of keys for Heimdall kinds and
	// relationships. It is fixed forever: every stored key depends on it.
	HeimdallNamespace = uuid.MustParse("66aa5c8d-b895-4f21-a1fa-de22fb83bc16")
)

// Key returns the deterministic key of o: "<kind>--<UUIDv5>" as described in
// the package documentation. For STIX kinds it equals the STIX 2.1
// deterministic identifier of the object.
//
// Key returns "" if o has an unknown kind or none of its kind's
// ID-contributing properties (a zero Observable, say); observables built by
// this package's functions always have a key.
func (o Observable) Key() string {
	if singleValue(o.Kind) {
		// Fast path, equal to the general one (TestKeyFastPathsMatch):
		// JCS of {"value": v} needs no reflection.
		if o.Value == "" {
			return ""
		}
		ns := STIXNamespace
		if !o.Kind.IsSTIX() {
			ns = HeimdallNamespace
		}
		var buf bytes.Buffer
		buf.Grow(len(o.Value) + 12)
		buf.WriteString(`{"value":`)
		if jcs.AppendString(&buf, o.Value) != nil {
			return ""
		}
		buf.WriteByte('}')
		return string(o.Kind) + "--" + uuid.NewSHA1(ns, buf.Bytes()).String()
	}
	props := o.idProperties()
	if props == nil {
		return ""
	}
	ns := STIXNamespace
	if !o.Kind.IsSTIX() {
		ns = HeimdallNamespace
	}
	id, err := deterministicID(string(o.Kind), ns, props)
	if err != nil {
		return ""
	}
	return id
}

// singleValue reports whether a kind's only ID-contributing property is value.
func singleValue(k Kind) bool {
	switch k {
	case KindIPv4Addr, KindIPv6Addr, KindDomainName, KindURL, KindEmailAddr, KindMACAddr,
		KindHost, KindAlertSignature, KindUserAgent:
		return true
	}
	return false
}

// idProperties returns the ID-contributing properties of o that are present,
// or nil if there are none.
func (o Observable) idProperties() map[string]any {
	p := map[string]any{}
	switch o.Kind {
	case KindIPv4Addr, KindIPv6Addr, KindDomainName, KindURL, KindEmailAddr, KindMACAddr,
		KindHost, KindAlertSignature, KindUserAgent:
		if o.Value != "" {
			p["value"] = o.Value
		}
	case KindAutonomousSystem:
		n, err := strconv.ParseUint(o.Value, 10, 32)
		if err != nil {
			return nil
		}
		p["number"] = n
	case KindFile:
		if alg, h := chooseOneHash(o.Hashes); alg != "" {
			p["hashes"] = map[string]string{alg: h}
		}
		if o.Name != "" {
			p["name"] = o.Name
		}
	case KindX509Certificate:
		if alg, h := chooseOneHash(o.Hashes); alg != "" {
			p["hashes"] = map[string]string{alg: h}
		}
		if o.SerialNumber != "" {
			p["serial_number"] = o.SerialNumber
		}
	case KindUserAccount:
		if o.Value != "" {
			p["user_id"] = o.Value
		}
		if o.AccountLogin != "" {
			p["account_login"] = o.AccountLogin
		}
		if o.AccountType != "" && len(p) > 0 {
			p["account_type"] = o.AccountType
		}
	}
	if len(p) == 0 {
		return nil
	}
	return p
}

// hashPreference is the order in which python-stix2 (stix2/base.py,
// _choose_one_hash, identical in releases 2.x and 3.0.x) picks the single
// hash that contributes to a deterministic id. STIX 2.1 itself does not
// specify the choice; matching the OASIS reference implementation is what
// makes the ids interoperate. Verified against ids computed by python-stix2
// 3.0.2 (testdata/stix2_python_vectors.json: a file with MD5 and SHA-256 has
// the id of the file with only the MD5).
var hashPreference = []string{"MD5", "SHA-1", "SHA-256", "SHA-512"}

// chooseOneHash returns the contributing hash: the first of hashPreference
// present, else the smallest algorithm name (python-stix2 takes the first in
// insertion order, which a Go map does not have). It returns "", "" for no
// hashes.
func chooseOneHash(hashes map[string]string) (alg, digest string) {
	for _, a := range hashPreference {
		if h, ok := hashes[a]; ok {
			return a, h
		}
	}
	if len(hashes) == 0 {
		return "", ""
	}
	names := make([]string, 0, len(hashes))
	for a := range hashes {
		names = append(names, a)
	}
	slices.Sort(names)
	return names[0], hashes[names[0]]
}

// deterministicID computes typ + "--" + UUIDv5(ns, JCS(props)).
func deterministicID(typ string, ns uuid.UUID, props any) (string, error) {
	data, err := jcs.Marshal(props)
	if err != nil {
		return "", err
	}
	return typ + "--" + uuid.NewSHA1(ns, data).String(), nil
}

// RelationKey returns the deterministic key of the relationship relType from
// the object with key src to the object with key dst:
// "relationship--" + UUIDv5(HeimdallNamespace,
// JCS({"relationship_type": relType, "source_ref": src, "target_ref": dst})).
// It is not a STIX deterministic identifier (STIX defines none for
// relationships); see the package documentation. It returns "" if an argument
// is not valid UTF-8.
func RelationKey(src, relType, dst string) string {
	// JCS orders the members relationship_type, source_ref, target_ref.
	var buf bytes.Buffer
	buf.Grow(len(src) + len(dst) + len(relType) + 64)
	buf.WriteString(`{"relationship_type":`)
	ok := jcs.AppendString(&buf, relType) == nil
	buf.WriteString(`,"source_ref":`)
	ok = ok && jcs.AppendString(&buf, src) == nil
	buf.WriteString(`,"target_ref":`)
	ok = ok && jcs.AppendString(&buf, dst) == nil
	buf.WriteByte('}')
	if !ok {
		return ""
	}
	return "relationship--" + uuid.NewSHA1(HeimdallNamespace, buf.Bytes()).String()
}

// relationKeySlow is RelationKey through the general JCS encoder (tests).
func relationKeySlow(src, relType, dst string) string {
	id, err := deterministicID("relationship", HeimdallNamespace, map[string]string{
		"relationship_type": relType,
		"source_ref":        src,
		"target_ref":        dst,
	})
	if err != nil {
		return ""
	}
	return id
}

// PersonalNamespace is the namespace of keys of personal observables. It is
// fixed forever, like HeimdallNamespace, and differs from both other
// namespaces so a personal key never equals the key of a plain value.
var PersonalNamespace = uuid.MustParse("b1d3c0a6-52f4-4e8e-9d0a-6f1f3e8c2a57")

// PersonalKey returns the key of an observable the PII policy marks
// personal: "<kind>--" + UUIDv5(PersonalNamespace, JCS({"pseudonym": p}))
// where p is the value's keyed pseudonym. Unlike Key it cannot be reversed
// by hashing candidate values without the pseudonymisation key. It returns
// "" for an unknown kind or an empty pseudonym.
func PersonalKey(kind Kind, pseudonym string) string {
	if !kind.Valid() || pseudonym == "" {
		return ""
	}
	var buf bytes.Buffer
	buf.Grow(len(pseudonym) + 16)
	buf.WriteString(`{"pseudonym":`)
	if jcs.AppendString(&buf, pseudonym) != nil {
		return ""
	}
	buf.WriteByte('}')
	return string(kind) + "--" + uuid.NewSHA1(PersonalNamespace, buf.Bytes()).String()
}
