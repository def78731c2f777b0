// Package enrichstore keeps the enrichment worker's durable state in
// PostgreSQL (schema heimdall_enrich): the consumer's offsets, the job
// table that is the worker's backlog, and the latest result per record and
// provider that decides whether a result still stands (the positive and
// negative cache). It implements commands/enrich.Store.
//
// A partial unique index allows one open job per (provider, record), so
// concurrent observations of one record coalesce into one job, and claims
// use FOR UPDATE SKIP LOCKED, so several workers can share the table.
package enrichstore
