// Package projections holds Heimdall's read models: consumers of the event
// log that build query-friendly state (the AGE graph, the vector tables).
//
// The Kafka log is the source of truth. Every read model can be dropped and
// rebuilt by replaying the log, and each projector keeps its consumer offsets
// in the same transaction as its writes, so a crash never loses or doubles an
// effect. Projections import events only; the adapters that store their state
// live under internal/ and implement the small interfaces declared here.
package projections
