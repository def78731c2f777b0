// Package auditstore keeps the audit trail read model in PostgreSQL
// (schema heimdall_audit): entries with their consumer offsets, written in
// one transaction, and the filtered, paginated reads of GET /v1/audit.
package auditstore
