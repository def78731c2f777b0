// Package reveal is the one way to turn sealed personal data back into
// plaintext: the audited decrypt command behind POST /v1/decrypt.
//
// A request names values by the record and field they are bound to (and
// either carries the sealed value, or lets the handler read it from the
// read model). The handler checks the caller's decrypt right, opens each
// value with the PII engine, and appends one pii.decryption_audited event
// (actor, request id, time, every record and field with its outcome) to the
// audit topic. Plaintext is returned only after the log acknowledged that
// event; when the audit cannot be written nothing is revealed. Denied
// requests are audited too.
package reveal
