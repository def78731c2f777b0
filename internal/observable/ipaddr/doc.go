// Package ipaddr parses and canonicalises IPv4 and IPv6 addresses and CIDR
// prefixes for use as observable values.
//
// Accepted input:
//
//   - surrounding white space is trimmed;
//   - one pair of enclosing brackets is removed ("[::1]", as in URLs and
//     e-mail address literals);
//   - an IPv6 zone ("fe80::1%eth0") is accepted and dropped: a zone names an
//     interface of the observing machine, not part of the address;
//   - IPv4-mapped IPv6 addresses ("::ffff:192.0.2.1") become the IPv4
//     address, so the same host gets the same key however a sensor printed
//     it. IPv4-compatible ("::192.0.2.1", deprecated by RFC 4291) and other
//     embedded forms (NAT64, 6to4) stay IPv6: they are different addresses.
//
// Rejected input: IPv4 forms whose meaning depends on the parser - octets with
// a leading zero ("010.1.1.1" is 8.1.1.1 to inet_aton but 10.1.1.1 to
// others), hexadecimal or octal octets ("0x7f.1", "017.0.0.1"), and shortened
// dotted forms ("127.1"). Plain integers ("3232235777") are not addresses
// either. All of these return [ErrAmbiguous] or [ErrSyntax].
//
// Canonical text: IPv4 in dotted decimal without leading zeros; IPv6 in the
// RFC 5952 form (lower case, longest run of zero groups compressed with "::",
// the first one on ties, a single zero group not compressed), which is what
// net/netip produces. Prefixes are written with the host bits cleared
// ("192.0.2.7/24" becomes "192.0.2.0/24").
//
// Error messages never include the input.
package ipaddr
