// Package urlnorm canonicalises URLs (RFC 3986 absolute URIs) for use as
// observable values, so that spellings of the same resource share one key.
//
// [Canonical] applies the RFC 3986 section 6.2.2 syntax-based and section
// 6.2.3 scheme-based normalisations, plus a few decisions of its own:
//
//   - surrounding white space is trimmed; the input (and the output) is at
//     most MaxLength octets;
//   - a scheme is required (RFC 3986 "absolute-URI"); it is lower-cased.
//     Relative references ("//host/x", "/x", "example.com/x") are rejected;
//   - the fragment is dropped: it is never sent to a server and does not
//     name a different resource;
//   - userinfo: the password is always dropped (a secret, and not part of
//     the resource's identity); the user name is kept, percent-normalised,
//     because it is sometimes the point of a deceptive URL
//     ("http://bank.example@evil.example/"). User names can be personal
//     data: the PII policy layer decides what to do with them before
//     anything is stored;
//   - host: percent-decoded, then canonicalised by the domain package
//     (lower case, IDNA A-labels, no trailing dot) or, if its last label is
//     numeric, by the ipaddr package (so "http://010.1.1.1/" is rejected as
//     ambiguous instead of being read as octal the way browsers do).
//     Bracketed IPv6 literals go through ipaddr (RFC 5952 form, zone
//     dropped); an IPv4-mapped literal becomes a plain IPv4 host. IPvFuture
//     literals are rejected;
//   - the port is written in decimal without leading zeros, and removed if
//     empty or if it is the scheme's default (http 80, https 443, ws 80,
//     wss 443, ftp 21);
//   - percent-encoding is normalised in user, path and query: escapes of
//     unreserved characters (ALPHA, DIGIT, "-", ".", "_", "~") are decoded,
//     other escapes use upper-case hex, a '%' not followed by two hex digits
//     becomes "%25", and every octet not allowed in the component (space,
//     controls, non-ASCII, '"', '<', '>', '\', '^', '`', '{', '|', '}') is
//     percent-encoded as UTF-8 octets - so "/ü" and "/%c3%bc" are one URL;
//   - dot segments are removed (RFC 3986 section 5.2.4) from hierarchical
//     paths, after percent-decoding, so "/a/%2E%2E/b" is "/b";
//   - an empty path becomes "/" for http, https, ws, wss and ftp;
//   - the query is kept as is (parameter order, '+', empty "?") apart from
//     percent-normalisation: reordering or decoding it could merge URLs a
//     server treats differently.
//
// The special schemes (http, https, ws, wss, ftp) require a host. For other
// schemes an authority may be absent ("mailto:", "urn:") or have an empty host
// ("file:///etc/hosts"); a non-empty host must still be a valid domain name or
// IP address. Note that, per RFC 3986, "example.com:443" is an absolute URI
// with scheme "example.com"; callers holding host:port pairs must not pass
// them here.
//
// Backslashes are not treated as slashes (WHATWG does that for special
// schemes); they are percent-encoded like any other disallowed octet.
//
// Canonicalisation is idempotent: Canonical(Canonical(x)) == Canonical(x).
//
// Error messages never include the input.
package urlnorm
