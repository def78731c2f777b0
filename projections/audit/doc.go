// Package audit projects the audit topic into the audit trail read model:
// one entry per audited write (ingest batch, decryption request,
// classification change, retraction, key rotation) with who (actor subject
// and issuer), in which request, when, and which records it touched. It
// never holds personal values: the events it reads hold none.
package audit
