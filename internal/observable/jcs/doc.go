// Package jcs implements the JSON Canonicalization Scheme (JCS) of RFC 8785.
//
// STIX 2.1 (section 2.9) derives the deterministic identifier of a cyber
// observable from the RFC 8785 serialisation of its "ID Contributing
// Properties"; this package produces exactly those bytes.
//
// The canonical form is:
//
//   - no whitespace between tokens;
//   - object members sorted by their names compared as arrays of UTF-16 code
//     units (RFC 8785 section 3.2.3), recursively;
//   - strings escaped as ECMAScript's JSON.stringify does: '"' and '\' are
//     escaped, U+0008, U+0009, U+000A, U+000C and U+000D use the two-character
//     escapes \b \t \n \f \r, every other code point below U+0020 uses \u00xx
//     with lower-case hex digits, and everything else (including U+007F,
//     U+2028, U+2029 and all non-ASCII text) is written as raw UTF-8;
//   - numbers serialised as ECMAScript's Number.prototype.toString does
//     (RFC 8785 section 3.2.2.3); NaN and the infinities are rejected;
//   - literals null, true and false as is.
//
// [Marshal] serialises Go values (strings, booleans, nil, numbers,
// json.Number, maps with string keys, slices); [Transform] canonicalises
// arbitrary JSON text and rejects duplicate member names and invalid UTF-8,
// as RFC 8785 requires (I-JSON, RFC 7493). One I-JSON rule is not enforced by
// Transform: an escaped lone surrogate ("\ud800") is replaced by U+FFFD, as
// encoding/json does, instead of being rejected. Heimdall's keys are built
// with Marshal from Go strings, where this cannot arise.
//
// Integers given as Go integer types are written with all their digits (as
// Python's reference implementation, used by the OASIS python-stix2 library,
// does for Python ints); for magnitudes up to 2^53 that is identical to the
// ECMAScript form. Integers beyond 2^53 are not I-JSON and are rejected.
//
// Error messages never include the input text.
package jcs
