// Package domain canonicalises DNS domain names and derives registrable
// domains (eTLD+1) for use as observable values.
//
// # Canonical form
//
// [Canonical] trims surrounding white space, removes one trailing dot (the
// root label: "example.com." and "example.com" name the same node), then
// applies UTS #46 (Unicode IDNA Compatibility Processing) ToASCII through
// golang.org/x/net/idna and returns lower-case A-labels ("bücher.example"
// becomes "xn--bcher-kva.example"). The result is then checked: every label
// 1 to 63 octets, the whole name at most 253 octets, no empty labels, and only
// the octets a-z, 0-9, '-' and '_'.
//
// # Profile choice
//
// Neither predefined x/net profile fits observed telemetry:
//
//   - idna.Registration applies no mapping (upper case and full-width input
//     are rejected instead of folded), which is right for registries, not for
//     canonicalising what a sensor saw;
//   - idna.Lookup maps, but applies UseSTD3ASCIIRules (rejecting '_', which
//     DNS service and policy labels such as "_dmarc" and "_sip._tcp" use and
//     resolvers accept) and CheckHyphens (rejecting real, resolvable names
//     such as "r3---sn-abc.googlevideo.com", whose third and fourth characters
//     are hyphens).
//
// The profile used is therefore Lookup's mapping with the WHATWG URL
// Standard's settings ("domain to ASCII" with beStrict false): non-transitional
// processing (so "faß.de" is "xn--fa-hia.de", not "fass.de"), CheckBidi and
// CheckJoiners on, CheckHyphens off, UseSTD3ASCIIRules off, VerifyDnsLength
// on. Because STD3 rules are off during mapping, the ASCII check afterwards is
// what rejects '*', ' ', '@' and other non-hostname octets. Compared with
// idna.Lookup, this profile accepts exactly nine more non-ASCII code points
// (pinned by a test that scans all of Unicode): six compatibility forms of the
// low line (U+FE33, U+FE34, U+FE4D..U+FE4F, U+FF3F), which map to '_' and are
// accepted accordingly, and U+2260, U+226E, U+226F (≠ ≮ ≯, whose
// decompositions contain '=', '<', '>'), which are rejected by an explicit
// check on the U-labels, as STD3 rules would.
//
// Underscores are allowed anywhere in a label (DNS itself allows any octet;
// '_' is the one non-LDH octet seen in practice). Labels starting or ending
// with '-' are accepted, as WHATWG URL parsers accept them.
//
// A name whose last label is numeric ("1.2.3.4", "example.123", "x.0x1f") is
// rejected with [ErrNumeric]: top-level domains are never numeric (RFC 3696
// section 2), and such strings are IPv4 addresses or ambiguous forms of them.
//
// The function is idempotent: Canonical(Canonical(x)) == Canonical(x).
//
// # Registrable domain
//
// [Registrable] returns the eTLD+1 of the canonical name using
// golang.org/x/net/publicsuffix, whose list is compiled into the module at a
// fixed version. It includes the PSL's private section (so the registrable
// domain of "a.b.blogspot.com" is "b.blogspot.com"), and it treats unlisted
// TLDs with the default rule "*". Results change only when the x/net version
// changes.
//
// Error messages never include the input.
package domain
