// Package events is the contract between Heimdall's write side (commands),
// its read side (projections) and peer sync: the event envelope, the typed
// payloads, their Avro single-object encoding, hybrid logical clocks and
// per-record version vectors.
//
// # Wire format
//
// A Kafka record value is the Avro single-object encoding (0xC3 0x01, the
// little-endian CRC-64-AVRO fingerprint of the writer schema, the binary body)
// of an Envelope. The envelope's payload field is itself the single-object
// encoding of the payload record named by event_type and schema_version. Both
// are decoded by resolving the writer schema, found by fingerprint among the
// embedded schema files, against the newest reader schema, so data written by
// any released schema version stays readable.
//
// # Keys, clocks and vectors
//
// The Kafka record key is the event's record key (the canonical key of the
// entity or relationship), so one record's history stays in one partition,
// in order. The hlc field packs unix milliseconds << 16 | logical counter.
// The version vector maps peer id to the highest HLC value of that peer's
// changes the record has seen; for an event written by its origin peer the
// origin's entry is the event's own HLC, so counters grow monotonically per
// peer without a per-record counter store.
package events
