// Package replay re-emits a range of an event log: to another topic, to a
// file as NDJSON, or nowhere (a dry run that counts what would be
// replayed). It also follows a topic live for an operator (Tail) and lists
// topics with their offsets (ListTopics). It is the library behind
// `heimdall replay` and `heimdall topics`.
//
// # Selection
//
// A Filter selects records by record key, event type, provenance source,
// batch id and a half-open time range [From, To) on either the Kafka record
// timestamp or the event's recorded_at. Every set criterion must hold; within
// one criterion any listed value matches. Options narrow the read to some
// partitions and, in one partition, to a half-open offset range
// [FromOffset, ToOffset). Run reads up to the end offsets it finds when it
// starts and then stops: it never tails, so replaying a topic into itself
// ends.
//
// When the time range is on the record timestamp, each partition is read
// from the first offset whose timestamp is at or after From (the broker's
// time index); records are still checked one by one, since producers set
// timestamps and they need not grow with the offset.
//
// # Output
//
// TopicSink writes each selected record unchanged — key, value bytes,
// headers in their order, timestamp — to the same partition number of the
// destination, so per-key order is kept, with an idempotent producer and
// acks=all; Run reports success only when every record is acknowledged. The
// destination must have as many partitions as the source (EnsureDestination
// creates a missing one that way, with the event log's settings).
//
// FileSink writes one JSON object per event (see Line for the shape): the
// decoded envelope, every payload field under its Avro field name, and where
// the record sits (topic, partition, offset, timestamp). Values are exactly
// what the log holds, which the PII policy already processed at ingest: no
// plaintext personal data is added, only pseudonyms, masks, tokens and
// sealed values.
//
// # Replaying into Heimdall's own events topic
//
// Replayed records keep their event ids, and the graph projector applies an
// event idempotently: provenance is keyed by (record key, event id) and
// inserted with ON CONFLICT DO NOTHING, and entity and relation states merge
// with commutative, idempotent rules (first/last seen, sources, attributes,
// vectors, highest classification), so an event appended a second time, at
// a later offset, leaves the graph as it was. Events of a retracted batch or
// source are skipped by the projector whenever they arrive; enrichment
// results are kept only when newer by (completed_at, event id); the
// enrichment worker makes no job for an observable with a fresh result or an
// open job.
//
// Two event types have effects that depend on where they sit in the log or
// start new work, and are therefore never replayed into Heimdall's events
// topic (`heimdall replay` sets Options.Exclude to OwnTopicExcluded when the
// destination is HEIMDALL_KAFKA_EVENTS_TOPIC): a classification.changed
// event is applied in log order, so an older one appended after a newer one
// would undo it; an enrichment.requested event forces new provider calls.
// Run counts them as skipped.
//
// Two effects remain, by design, exactly as re-ingesting the same file
// would have them: a record reclassified below the level of an observation
// is raised again when that observation arrives again; and an observation
// whose enrichment result outlived its TTL is enriched again (with an
// enricher running), as any new observation would be.
package replay
