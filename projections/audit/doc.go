// Package audit projects the audit topic into the audit trail read model:
// one entry per audited write (ingest batch, decryption request,
// classification change, retraction, key rotation) with who (actor subject
// and issuer), in which request, when, and which records it touched. It
// never holds personal values: the events it reads hold none.
//
// The projector only maps events and hands them to its Store with the next
// offsets; the same projector rebuilds the trail when its Store writes to a
// rebuild's tables (auditstore's RebuildTarget): appending an entry it
// already has changes nothing, and offsets only move forward.
package audit
