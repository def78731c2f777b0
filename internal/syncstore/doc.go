// Package syncstore keeps peer sync's import state in PostgreSQL (schema
// heimdall_sync): the cursor per peer, the ids of imported events (so an
// event delivered by two peers is appended once), pauses, and the last
// contact with each peer, for `heimdall sync status` (which also shows the
// conflicting reclassifications the graph read model recorded per peer,
// WithConflicts).
package syncstore
