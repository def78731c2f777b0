// Package hash canonicalises cryptographic hash values (file hashes,
// certificate fingerprints) for use as observable values.
//
// [Canonical] accepts a hexadecimal digest and infers the algorithm from its
// length: 32 hex digits MD5, 40 SHA-1, 64 SHA-256, 128 SHA-512. The result is
// lower-case hex. Accepted decorations, all optional:
//
//   - surrounding white space;
//   - an algorithm prefix followed by ':' or '=' ("sha256:…", "SHA-1=…",
//     "md5:…"), case-insensitive; names md5, sha1, sha-1, sha256, sha-256,
//     sha512, sha-512, and sha3-256, sha3-512 (SHA3 only by prefix, since a
//     64- or 128-digit value without a prefix is taken as SHA-256 or
//     SHA-512). The digest length must then match the named algorithm;
//   - colon-separated octets ("AB:CD:…", as openssl prints fingerprints):
//     either every octet is separated or none is.
//
// Anything else - non-hex characters, other lengths, unknown prefixes - is
// rejected. Algorithm values are the names of the STIX 2.1 hash-algorithm-ov
// vocabulary ("MD5", "SHA-1", "SHA-256", "SHA-512", "SHA3-256", "SHA3-512"),
// ready to be used as keys of a STIX "hashes" dictionary.
//
// Canonicalisation is idempotent: for a result (a, h), Canonical(h) yields h
// again, and Canonical(string(a)+":"+h) yields (a, h) - the STIX names are
// accepted as prefixes.
//
// Error messages never include the input.
package hash
