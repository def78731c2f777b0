// Package transform applies a resolved PII policy rule to one field value.
//
// Actions and output formats:
//
//   - drop: nothing is returned and drop is true.
//   - keep: the value unchanged (only allowed by the policy for non-personal
//     fields).
//   - mask: partial scrub for display: "***@example.org" (keep_domain),
//     "192.0.2.0/24" / "2001:db8:1::/48" (ip prefixes), "***1234" (keep_last).
//     A value the mask cannot apply to (no "@", not an IP, an address family
//     without a prefix in the policy, too short for keep_last) is fully
//     redacted to "***" and Meta.Redacted is set; never an error.
//   - pseudonymise: "ps:<pkN>:<base64url-nopad(HMAC-SHA-256(key_pkN, input))>"
//     with input = "heimdall/pii/ps/v1" 0x00 kind 0x00 canonical(value).
//     The field path is NOT in the input: the rule's kind is the
//     domain-separation label, so src_ip and dst_ip (both kind ip) join,
//     while an IP and an e-mail never collide. canonical() unmaps and
//     re-prints IP addresses for kinds "ip", "ipv4-addr" and "ipv6-addr" and
//     lower-cases kinds "email" and "email-addr";
//     other kinds use the value as is. The key version (pkN) is in the
//     pseudonym and in Meta.KeyID. One-way: there is no reverse operation.
//   - encrypt: envelope encryption with Tink deterministic AEAD (AES-SIV,
//     a misuse-resistant AEAD) under a data key wrapped by the master key.
//     "enc:v1:<data key id>:<base64url-nopad(tink ciphertext)>" with
//     associated data "heimdall/pii/enc/v1" || uvarint-length-prefixed
//     record key || field path, so a ciphertext moved to another record or
//     field fails to decrypt, and any tampering fails authentication.
//     Deterministic on purpose: the same value in the same field of the same
//     record always seals to the same ciphertext, so re-ingesting a file and
//     replaying the log rebuild byte-identical read models. What that reveals
//     is only that one record's field held the same value twice, which the
//     record key (derived from the value's pseudonym) already says; across
//     records and fields ciphertexts of equal values are unrelated.
//     Decrypt reverses it.
//   - tokenise: Tink deterministic AEAD (AES-SIV).
//     "tok:v1:<data key id>:<base64url-nopad(tink ciphertext)>" with
//     associated data "heimdall/pii/tok/v1" 0x00 kind. Equal values of the
//     same kind give equal tokens (that is the point: equality lookups) and
//     this LEAKS EQUALITY by design; use it only where a reversible value
//     must be searched by equality. Detokenise reverses it.
//
// Envelope keys: a KeyStore holds data keysets (purpose encrypt or tokenise), each
// wrapped by a key-encryption key derived with HKDF-SHA-256 from the master
// key (keys.MasterKey); the wrapped form, its id and the master key id are
// exported with Wrapped for storage apart from the data. New data is sealed
// with the most recent data key of each purpose; old data keys stay for
// decryption. A store opened with previous master keys still opens data keys
// they wrap (reads keep working during a rotation) and RewrapStale re-wraps
// those under the current master key; Rewrap (and RewrapAll for stored keys)
// re-wraps every data key under a new master key. Neither touches any data
// ciphertext. Rotating the
// tokenisation data key changes tokens of equal values, so equality lookups
// must then try every daead key.
package transform
