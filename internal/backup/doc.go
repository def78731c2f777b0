// Package backup writes and restores a Heimdall backup: the Kafka event log
// (the source of truth) and a pg_dump of the PostgreSQL read models, with a
// manifest that says what the backup holds and lets a restore prove it put
// every byte back.
//
// # What a backup is
//
// A backup is a directory:
//
//	manifest.json                      what follows, with sizes and SHA-256 sums (written last)
//	kafka/<role>/<partition>.ndjson.zst  one file per partition of each topic
//	postgres.dump                      pg_dump --format=custom of the database (absent with -skip-postgres)
//
// The roles are events, rejects and audit (HEIMDALL_KAFKA_EVENTS_TOPIC,
// HEIMDALL_KAFKA_REJECTS_TOPIC, HEIMDALL_KAFKA_AUDIT_TOPIC); the manifest
// records each topic's name, partition count, replication factor and the
// settings set on the topic itself (retention.ms, cleanup.policy, ...).
//
// # Record files
//
// A partition file is a zstd stream (zstd -dc reads it) of newline-delimited
// JSON, one Kafka record per line, in offset order:
//
//	{"partition":0,"offset":41,"timestamp":1764300000123,"key":"<base64>","value":"<base64>","headers":[{"key":"traceparent","value":"<base64>"}]}
//
// timestamp is the record's timestamp in milliseconds since the Unix epoch;
// key, value and header values are standard base64 of the exact bytes, or
// null for a null key, value or header value; headers keep their order and
// is left out when there are none. Nothing is decoded or re-encoded: the
// values are the Avro events exactly as Heimdall wrote them.
//
// # Manifest
//
// manifest.json (format "heimdall-backup/1") holds the Heimdall version, the
// start and end time, per topic and partition the log start offset, the end
// offset the backup read up to (the last stable offset when the backup
// started reading), the record count, first and last offset and whether the
// offsets were contiguous from 0 (then a restore gives every record its
// original offset); for PostgreSQL the server and pg_dump versions, the
// extensions and their versions, the AGE graphs, the number of ag_label
// rows, the active graph generation with its vertex and edge counts and the
// number of data keys; and the size and SHA-256 of every file.
//
// # Consistency
//
// The database is dumped first, from a snapshot exported by a repeatable-read
// transaction (pg_dump --snapshot); the Kafka end offsets are read after the
// dump. Every offset a projection stored in the dump is therefore at or below
// the end of the backed-up log, so after a restore the projectors continue
// where the dump left them and catch up with the rest of the log. A data key
// created after the snapshot but before the end offsets were read could seal
// values in the log that the dump cannot open: the backup checks for that and
// fails, asking for another run.
//
// # Restore
//
// Restore needs an empty target (unless forced): the topics absent or
// without records, the database without Heimdall's schemas or AGE graphs but
// with the age and vector extensions installed (as the stack creates its
// databases: from template1 holding both, with the application role allowed
// to write ag_catalog's tables). It checks every file against the manifest
// first, creates the topics with the backed-up partition counts and settings
// (replication factor from the target's configuration), produces every
// record to its partition in order with an idempotent acks=all producer
// (keys, values, headers and timestamps as they were), and checks the
// partitions' end offsets against the manifest. It then runs pg_restore
// (single transaction, no owners or privileges: objects belong to the
// restoring role) without the entries the extensions own, and repairs AGE's
// catalog: ag_graph.graphid and ag_label.graph are bare oids holding the
// source database's schema oids, which a dump cannot carry over, so they are
// set to the restored schemas' oids (as create_graph sets them) and checked
// with a Cypher query on every graph.
//
// Without the dump (-skip-postgres) only the log is restored; the graph,
// the audit trail and the enrichment state are rebuilt from it
// (heimdall projections rebuild). The wrapped data keys in schema
// heimdall_keys cannot be rebuilt from the log: without them (and the master
// key) encrypted values can never be read again.
//
// pg_dump and pg_restore must be of the server's major version; they are
// taken from HEIMDALL_PG_BIN_DIR, else from PATH, and a mismatch is refused.
// The connection comes from HEIMDALL_POSTGRES_URL alone (sslmode verify-full,
// sslrootcert from HEIMDALL_CA_FILE when the URL has none, TLS 1.3); the
// password reaches the tools through a temporary passfile, never a command
// line, and they inherit none of Heimdall's own variables (its keys) and no
// PG* variable.
package backup
