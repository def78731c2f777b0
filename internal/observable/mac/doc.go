// Package mac canonicalises IEEE 802 MAC addresses (EUI-48 and EUI-64) for use
// as observable values.
//
// [Canonical] accepts, after trimming surrounding white space:
//
//   - six or eight octets separated by ':' ("aa:bb:cc:dd:ee:ff") or by '-'
//     ("AA-BB-CC-DD-EE-FF"), one separator kind throughout; an octet may be
//     written with one digit ("0:1b:63:84:45:e6", as macOS prints them);
//   - three or four groups of four hex digits separated by '.'
//     ("aabb.ccdd.eeff", Cisco notation);
//   - 12 or 16 hex digits without separators ("aabbccddeeff").
//
// The result is lower case, colon-separated, two digits per octet - the form
// STIX 2.1 requires for mac-addr values ("aa:bb:cc:dd:ee:ff"). EUI-64 values
// (8 octets) use the same form; STIX only describes MAC-48, so an EUI-64
// mac-addr is a Heimdall extension of that rule.
//
// Canonicalisation is idempotent: Canonical(Canonical(x)) == Canonical(x).
//
// Error messages never include the input.
package mac
