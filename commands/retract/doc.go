// Package retract is the command that retracts an ingest batch or a whole
// source: it appends a retraction.requested event and an audit record, and
// reports success once the log acknowledged both. Projections then remove
// what only the batch or source contributed (see projections/graph).
package retract
