// Package email canonicalises e-mail addresses (RFC 5321 mailbox syntax,
// with the RFC 6531 UTF-8 extension) for use as observable values.
//
// [Canonical] accepts a bare address "local-part@domain" after trimming
// surrounding white space. Display names, angle brackets, comments and
// "mailto:" are not accepted: extracting the address from a header is the
// caller's job.
//
// Local part: kept case-sensitive. RFC 5321 section 2.4 says the local part
// MUST be treated as case sensitive by everyone except the destination host,
// so "John@example.com" and "john@example.com" are different observables,
// even though most providers deliver them to the same mailbox. (Provider
// specific rules - dots and "+tag" at Gmail - are not applied either.) The
// local part is a dot-atom (RFC 5321 atext, plus any non-ASCII UTF-8 per
// RFC 6531) or a quoted string. A quoted string is rewritten in its minimal
// form: unquoted if its content is a valid dot-atom ("\"john\""@x becomes
// john@x, as RFC 5321 section 4.1.2 makes them equivalent), otherwise quoted
// with only '"' and '\' escaped. At most 64 octets (RFC 5321 4.5.3.1.1).
//
// Domain: canonicalised by the domain package (lower case, A-labels, no
// trailing dot), except that '_' is rejected (not valid in a mail domain,
// RFC 5321 section 4.1.2). An address literal is accepted and canonicalised by
// the ipaddr package: "[192.0.2.1]" or "[IPv6:2001:db8::1]" (an IPv4-mapped
// IPv6 literal becomes the IPv4 literal).
//
// The whole address is at most 254 octets (RFC 5321's 256-octet path limit
// minus the angle brackets).
//
// Canonicalisation is idempotent: Canonical(Canonical(x)) == Canonical(x).
//
// Error messages never include the input.
package email
