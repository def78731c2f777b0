// Package keys supplies key material to the PII layer and refuses weak keys.
//
// Source is the seam for the master key (the key-encryption key that wraps
// data keys): EnvSource takes the raw value of an environment variable today;
// a KMS or Vault source can implement the same interface later. The raw value
// is standard or URL-safe base64 of at least 32 random bytes. Missing, short,
// all-same-byte, repeating, sequential, low-variety or text-like keys are
// refused; no error or String method ever prints key material.
//
// A master key's id is derived from the key itself
// ("mk-" + hex(HMAC-SHA-256(key, "heimdall/pii/master-key-id/v1")[:8])), so
// the id stored next to wrapped data keys identifies the key without
// revealing it.
//
// PseudonymKeys is the versioned key set for the pseudonymisation PRF
// (versions pk1, pk2, ...). It is held apart from the data and from the
// master key: rotating the master key must not change pseudonyms.
package keys
