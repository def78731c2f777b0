// Package exchange is the contract between Heimdall peers: the framing of the
// sync stream a peer serves from its event log, the cursor an importer
// resumes from, the agreement deciding what may cross to a peer, and the
// rule that keeps an event from travelling back to a peer that already held
// it.
//
// # Stream
//
// GET /v1/sync/events answers with Content-Type ContentType and a sequence of
// frames, each a type byte, a uvarint length and that many bytes:
//
//	'R' record: uvarint partition, uvarint offset, bytes key, bytes value,
//	    uvarint header count, then name and value bytes per header
//	'C' cursor: uvarint count, then uvarint partition and uvarint next
//	    offset per partition of the exporter's events topic
//	'E' ends: as a cursor, the exporter's end offsets when it started to
//	    read (the importer's lag is their distance to its cursor)
//
// where "bytes" is a uvarint length and the bytes. A record's value is the
// Kafka value exactly as in the exporter's log (an Avro single-object
// encoding, or the Confluent wire format in schema-registry mode). A cursor
// frame follows every chunk of records: everything before it is covered, so
// an importer that stored the cursor after appending those records resumes
// there. Records after the last cursor frame of a cut stream are sent again
// by the next request; the importer recognises them by event id.
//
// # Anti-entropy
//
// With ids=true a record frame's value is the record's event id (16 bytes)
// and its key is empty. With digests=S (one partition, an until offset) the
// record frames are range digests (RangeDigest): offset is the range's
// first offset (a multiple of S), the key its end (8 bytes, big-endian,
// exclusive) and the value the number of event ids the caller may receive
// from the range (8 bytes, big-endian) and the SHA-256 of those ids in log
// order.
//
// # Loops
//
// A record imported from a peer carries the header HeaderVia: the peers that
// held it before, origin first. An exporter never sends a record to a peer
// named in that path (or to its origin), so no event returns to a peer that
// already had it, in chains and meshes alike.
package exchange
