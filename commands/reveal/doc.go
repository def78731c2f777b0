// Package reveal is the one way to turn sealed personal data back into
// plaintext: the audited decrypt command behind POST /v1/decrypt.
//
// A request names values by the record and field they are bound to (and
// either carries the sealed value, or lets the handler read it from the
// read model). The handler checks the caller's decrypt right, then reads
// each item's record through Command.Records, the read model as this caller
// may see it: a record above the caller's clearance reads as invisible, and
// its item is answered exactly like one of a record that does not exist
// ("not_found", nothing opened) while the audit records it as "denied". A
// value the caller sends must be one of the values the record's field holds
// (a token is bound to no record, so only this ties it to one; a
// ciphertext is also bound to its record and field as associated data), so
// nothing sealed in a record the caller may not see opens under the name of
// one they may. The handler opens each value with the PII engine and appends
// one pii.decryption_audited event (actor, request id, time, every record
// and field with its outcome) to the audit topic. Plaintext is returned
// only after the log acknowledged that event; when the audit cannot be
// written nothing is revealed. Requests without the decrypt right are
// audited too.
package reveal
