// Package graph projects entity and relation events into the graph read
// model: one vertex per canonical entity key, one edge per relationship key,
// each carrying the merged state of every event about it.
//
// # Merge rules
//
// EntityState and RelationState merge with MergeEntity and MergeRelation:
// first_seen is the earliest observed_at, last_seen the latest, sources the
// sorted set union of provenance sources, the version vector the element-wise
// maximum, attributes the union of values per name, and the highest
// classification wins (UNCLASSIFIED < CONFIDENTIAL < SECRET < TOP SECRET <
// anything unknown or empty). Merging is commutative, associative and
// idempotent, so re-delivered, duplicated or re-ordered events leave the
// graph unchanged, and a replay builds the same graph as the live projector.
// A relation event also makes sure both endpoint vertices exist; an endpoint
// contributes only its key, kind and value to the vertex state.
//
// Vertices are labelled by kind (ipv4-addr is IPv4, domain-name is Domain,
// ..., other kinds are Observable); edges by relation type, which must match
// ^[A-Z][A-Z0-9_]{0,62}$ (other relation events are skipped, logged, counted
// and recorded as projection errors).
//
// # Exactly once
//
// Handle decodes a batch, then asks the Store to apply it in one
// transaction: the store locks the batch's stored offsets, the projector
// drops records below them, and the store writes the merged state, the
// vertices and edges, provenance (keyed by record key and event id) and the
// next offsets together. A crash before the commit changes nothing; a batch
// delivered again, or overlapping a committed one, is skipped record by
// record; an event appended twice at different offsets merges to the same
// state and adds no provenance.
//
// # Generations and rebuilds
//
// The graph lives in generations (see Generation). Readers use the active
// one. A rebuild never touches it:
//
//  1. the rebuild command creates a new generation in state building
//     (graphstore's BeginRebuild) and runs a projector built with
//     WithGeneration(gen), which consumes every partition from the
//     generation's stored offsets (0 for a new one; a rebuild that died
//     left its offsets committed with its contents, and the next run
//     resumes there unless asked for a fresh start) up to the high
//     watermarks read when the rebuild started;
//  2. it then activates the generation (graphstore's Activate): in one
//     transaction the new generation becomes active and the old one
//     retired; generations retired before that are dropped, so the
//     previous one stays for readers still using it;
//  3. the live projector's next transaction finds that its generation is no
//     longer active and Handle returns ErrGenerationChanged; the consumer
//     restarts, Offsets resolves the new active generation and returns its
//     offsets (the high watermarks of the rebuild), and the live projector
//     continues from there, applying what was appended during the rebuild.
//
// Readers switch from one complete graph to another and never see an empty or
// partial one; right after the switch the new graph lags by what was
// appended during the rebuild, until the live projector catches up.
package graph
