// Package spool holds an upload on local disk, encrypted, while it waits to
// be processed asynchronously. Each spool file has its own random AES-256-GCM
// key that exists only in memory: the bytes on disk are never plaintext, and
// a spool left behind by a crash can be read by no one (the client re-sends
// the batch with the same Idempotency-Key; event ids make that safe).
package spool
