// Package pii is the root of Heimdall's personal-data policy layer.
//
// The layer is split into pure packages that the ingest path wires together:
//
//   - policy: the declarative, versioned YAML policy that gives every field of
//     every source profile a classification level and an action.
//   - keys: where key material comes from (master key source, pseudonymisation
//     key set) and the checks that refuse missing or weak keys.
//   - transform: applies a resolved policy rule to one field value
//     (drop, mask, pseudonymise, encrypt, tokenise, keep), plus decryption,
//     detokenisation and master-key rotation of the wrapped data keys.
//   - scrub: detectors for personal data inside free text.
//
// This package's Engine puts them together for the write side (ingest calls
// Rule, Apply and Pseudonym for every value it stores) and for the one read
// path that may reveal plaintext (commands/reveal, behind the audited
// decrypt API). Wrapped data keys are stored by internal/datakeys.
//
// Nothing in this tree ever puts a field value into an error or a message;
// only field paths, profile names, key ids and policy versions appear there.
package pii
