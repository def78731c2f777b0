// Package ingest is the ingest command: it streams an upload, parses records,
// maps fields to observables and relationships with a declarative profile,
// canonicalises them, and appends entity.observed and relation.observed
// events to the event log, and ingest.rejected events for records it cannot
// accept. A batch belongs to its actor: its id is BatchID of the actor
// (issuer and subject) and the client's key, and event ids derive from the
// batch id, so one actor re-sending a key repeats its event ids and two
// actors never share any. Every record read is counted exactly once as
// accepted, rejected or duplicate, and nothing is reported accepted before
// the log acknowledged it.
//
// Policy for fields: only the observables and attributes a profile names are
// kept; every other field is dropped (the strictest action for a field no
// policy names). Rejects carry the location and a reason, never input values.
package ingest
