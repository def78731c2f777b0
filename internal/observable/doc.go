// Package observable is Heimdall's model of cyber observables and their
// deterministic canonical keys.
//
// An [Observable] is a kind (a STIX 2.1 cyber-observable type, or a Heimdall
// kind that STIX lacks) and the canonical form of its identifying value(s).
// [Canonicalize] turns a raw string from any source into an Observable by
// dispatching to the canonicalisation packages below this one (ipaddr, domain,
// urlnorm, email, mac, hash); [ParseIP] chooses between ipv4-addr and
// ipv6-addr. [Observable.Key] returns the record key used on the event log and
// as the graph node identity, so the same IP seen in a CSV file and in a Zeek
// log is the same node.
//
// # Key scheme
//
// A key is "<kind>--<UUIDv5>", the UUIDv5 (RFC 4122 / RFC 9562, SHA-1)
// computed over the RFC 8785 (JCS) canonical JSON serialisation of the
// object's ID-contributing properties that are present:
//
//	key = kind + "--" + UUIDv5(namespace, JCS({contributing properties}))
//
// For STIX 2.1 types this is exactly the STIX 2.1 deterministic identifier
// (STIX 2.1 section 2.9), with the STIX namespace
// 00abedb4-aa42-466c-9c01-fed23315a9b7 and the contributing properties STIX
// lists for each type, so Heimdall keys equal the "id" that STIX tools (the
// OASIS python-stix2 library, OpenCTI) assign to the same object:
//
//	ipv4-addr, ipv6-addr, domain-name, url, email-addr, mac-addr: {"value"}
//	autonomous-system: {"number"} (a JSON number)
//	file:              {"hashes", "name"} - STIX also lists "extensions" and
//	                   "parent_directory_ref"; Heimdall does not model them,
//	                   so its file keys equal STIX ids of file objects that
//	                   have neither
//	x509-certificate:  {"hashes", "serial_number"}
//	user-account:      {"account_type", "user_id", "account_login"}
//
// The "hashes" property contributes a single hash, not the whole dictionary.
// The STIX 2.1 text does not say which; the OASIS reference implementation
// (python-stix2, stix2/base.py, function _choose_one_hash) takes the first
// present of "MD5", "SHA-1", "SHA-256", "SHA-512", and otherwise the first key
// of the dictionary in insertion order. Heimdall follows that order (checked
// against ids produced by python-stix2 3.0.2, see testdata); for the fallback
// it takes the smallest algorithm name in byte order, since Go maps have no
// insertion order - this can differ from python-stix2 only for a file known
// solely by several non-standard hashes. Consequence: a file first seen with
// only its SHA-256 and later with its MD5 too gets a different key; callers
// that learn more hashes of a file must keep the first key or merge.
//
// The values inside the JSON are the canonical values of this package, so two
// raw spellings of one thing map to one key ("ExAmple.COM." and
// "example.com"; "::ffff:192.0.2.1" and "192.0.2.1"; "bücher.example" and
// "xn--bcher-kva.example"). A STIX producer that does not canonicalise the
// same way (for instance one that writes U-labels, or upper-case hashes)
// computes different ids for those spellings; for values already in canonical
// form the ids agree.
//
// # Heimdall kinds
//
// Kinds STIX does not define get keys by the same construction under the
// Heimdall namespace 66aa5c8d-b895-4f21-a1fa-de22fb83bc16 (a random UUIDv4
// generated once for this purpose; it must never change, since every stored
// key depends on it). Each has one contributing property, {"value"}:
//
//	host:            the host name of a monitored machine, canonicalised as a
//	                 domain name (lower case, A-labels, '_' allowed).
//	alert-signature: the detection's signature text (for example Suricata's
//	                 "ET POLICY ..."), trimmed, runs of white space collapsed
//	                 to one space, case kept.
//	user-agent:      the HTTP User-Agent string, trimmed, otherwise exact.
//
// Different namespaces keep Heimdall keys from ever colliding with STIX ids,
// and the type prefix keeps kinds apart. The Heimdall kind names are not STIX
// types: exporting them to STIX needs a STIX extension definition.
//
// # Keys of personal observables
//
// A key computed from a plain value can be reversed by hashing candidate
// values. When the PII policy marks an observable personal, its key is
// [PersonalKey] instead: the same construction over {"pseudonym": p} in the
// namespace b1d3c0a6-52f4-4e8e-9d0a-6f1f3e8c2a57, where p is the value's
// keyed pseudonym (HMAC-SHA-256 under a versioned key held apart from the
// data). Equal values still get equal keys, so they join in the graph.
//
// # Relationship keys
//
// [RelationKey] gives graph edges deterministic keys:
//
//	"relationship--" + UUIDv5(Heimdall namespace,
//	    JCS({"relationship_type": t, "source_ref": src, "target_ref": dst}))
//
// STIX 2.1 has no deterministic identifiers for relationships (SROs are
// SDO-like objects with random UUIDv4 ids and their own created/modified
// times), so these keys are Heimdall's, not STIX's; exported STIX
// relationships may use them as ids (a UUIDv5 in a namespace other than the
// STIX SCO one is allowed) but other producers will not reproduce them.
//
// # Errors
//
// Errors wrap the sentinel errors of this package and of the packages
// underneath with context. No error message contains the raw input: values
// may be personal data.
package observable
