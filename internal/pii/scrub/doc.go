// Package scrub detects and replaces personal data inside unstructured text
// fields such as log messages, URL query strings, user agents and CEF msg
// extensions.
//
// Each detector (FindEmails, FindPhones, FindCards, FindIBANs,
// FindUserPaths, FindNationalIDs) scans a string and returns byte-offset
// Spans. Detectors are tuned for a low false-positive rate: every numeric
// detector requires token boundaries and a structural or checksum validation
// (Luhn, ISO 13616 mod-97, 11-proef, SSN area rules, ...), so IP addresses,
// timestamps, ports, version strings, epoch numbers, hex hashes and UUIDs are
// not reported.
//
// A Scrubber combines the enabled detectors. Find resolves overlaps (longest
// span wins; on equal length the more specific kind wins) and returns sorted,
// non-overlapping spans. Replace rebuilds a string with every span replaced by
// a caller-supplied function, which is where the policy layer pseudonymises or
// masks; DefaultReplacement yields placeholders such as "[email]" or "[card]".
// ScrubURLQuery percent-decodes each query value before scanning and
// re-encodes values it changed.
//
// All functions are pure and safe for concurrent use. Error messages never
// contain input values.
package scrub
