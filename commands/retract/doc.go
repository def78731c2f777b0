// Package retract is the command that retracts an ingest batch or a whole
// source: it appends a retraction.requested event and an audit record, and
// reports success once the log acknowledged both. The event carries the
// actor's clearance: projections then remove what the batch or source
// contributed to the records at or below that clearance, and leave the
// records above it untouched (see projections/graph). Admins may name any
// batch; batch ids derive from the actor that wrote them
// (ingest.BatchID), so a retraction never reaches another actor's batch
// that happens to share a client key.
package retract
