// Package resolve is the enrichment provider of type "dns": reverse (PTR)
// lookups for IP addresses and forward (A and AAAA) lookups for domain
// names, asked of one configured recursive resolver over DNS over TLS
// (RFC 7858) with TLS 1.3 only — Heimdall never opens a plaintext or
// pre-1.3 hop, so there is no UDP or plain-TCP fallback.
//
// The client is github.com/miekg/dns message packing over a connection the
// provider dials itself (net.Dialer, then a TLS 1.3 handshake verified
// against the configured roots and server name), one connection per Enrich
// call carrying its queries in sequence. The call's context bounds the dial,
// the handshake and every read and write; cancelling it closes the
// connection at once. Config.Timeout caps each call as well.
//
// Results:
//
//   - ipv4-addr, ipv6-addr: a PTR query for the address's in-addr.arpa or
//     ip6.arpa name (following CNAMEs, as classless delegations use). Each
//     name becomes an attribute ptr=<name> and a relation
//     PTR → domain-name <name> (edge from the address to the name).
//   - domain-name: A and AAAA queries. Each address becomes a relation
//     RESOLVES_TO → ipv4-addr/ipv6-addr (edge from the domain to the
//     address); attribute resolved_count holds the number of distinct
//     addresses in the answers (before the MaxAnswers cap), and cname one
//     attribute per name of the CNAME chain, in chain order. A domain that
//     is only a CNAME to nothing (dangling) is found, with its cname
//     attributes and resolved_count 0.
//
// Names are reported in canonical form: lower case, without the trailing
// dot; names that are not host names (bytes outside letters, digits, '-'
// and '_') are dropped, and an answer holding only such names is a bad
// response. Addresses and names are sorted and de-duplicated, then capped at
// MaxAnswers (for a domain, the cap is shared fairly between IPv4 and IPv6).
//
// NXDOMAIN and empty answers are NotFound. Failures are classified: a
// deadline is ClassTimeout, SERVFAIL, a refused or failed connection and a
// failed TLS handshake (including a server that does not speak TLS 1.3) are
// ClassUnavailable, REFUSED/NOTIMP/FORMERR are ClassRejected, and an answer
// that cannot be parsed or does not match the question is
// ClassBadResponse. A SERVFAIL or REFUSED for AAAA after a positive A answer
// is tolerated (some authoritative servers mishandle AAAA). Error reasons
// never quote the name or the answers.
package resolve
