// Package auditstore keeps the audit trail read model in PostgreSQL
// (schema heimdall_audit): entries with their consumer offsets, written in
// one transaction, and the filtered, paginated reads of GET /v1/audit.
//
// # Rebuilds
//
// A rebuild (BeginRebuild) fills log_next and offsets_next through
// RebuildTarget, an audit.Store for a projector fed from the audit topic,
// while readers and the live projector use log and offsets. Entries and
// offsets are committed together, so an interrupted rebuild resumes from its
// offsets (BeginRebuild without fresh keeps its tables). FinishRebuild swaps
// the tables in one transaction: it locks the live ones (readers go on, the
// live projector waits), lets the caller apply what the topic holds beyond
// the rebuild's offsets, copies the live entries over if the live offsets
// are still ahead (idempotent by event id), keeps the greater offsets per
// partition, drops the live tables and gives their names to the new ones.
// A rebuild holds a session advisory lock (LockRebuild), so one runs at a
// time and a killed one releases it with its connection.
package auditstore
