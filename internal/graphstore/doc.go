// Package graphstore keeps the graph read model in PostgreSQL with Apache
// AGE (1.5.0 or later), through pgx. It implements graph.Store for the graph
// projector and the reads of the query API.
//
// # Connections
//
// Open (or PoolConfig plus New) requires TLS 1.3 with server verification:
// a URL with sslmode disable, allow, prefer or require (without a root
// certificate) is refused; WithTLSConfig may replace the URL's TLS settings.
// Every connection gets search_path ag_catalog, "$user", public, and the
// pgvector types when the vector extension is installed. The age extension
// must exist in the database and be preloaded (or use WithLoadAGE).
//
// # Layout
//
// Migrations (goose, migrations/*.sql, version table
// heimdall.graphstore_migrations) create heimdall.generations. Each
// generation is an AGE graph named heimdall_<id>; AGE creates a schema of
// that name, and layout.sql adds, in the same schema:
//
//   - entity_state: merged state per vertex key, with the vertex's label and
//     graphid, version vector and attributes (jsonb), and the parts the
//     classification is derived from: the winning reclassification and the
//     level clock (jsonb, never shown by reads);
//   - relation_state: merged state per edge key, with its endpoints' keys;
//   - provenance: one row per (record key, event id);
//   - contributions: what each event added to each record (one row per
//     record key, type and event id, with its batch and source), so that a
//     retraction recomputes the records it touches from what remains;
//   - pending_reclassifications: the winning reclassification of records
//     that do not exist (yet, or any more), merged in when they appear;
//   - reclassifications: every classification change of every record
//     (graph.Reclassified), the log each new change is compared with
//     (graph.NewConflicts);
//   - reclassification_conflicts: the conflicting reclassifications
//     (graph.Conflict; one row per record and concurrent pair of events),
//     with audited_at once their audit event is in the log. It is an audit
//     log, not part of the graph: Digest leaves it out;
//   - offsets: next offset per (topic, partition);
//   - projection_errors: records skipped as unusable, with a reason that
//     holds no values.
//
// Labels are created lazily (create_vlabel, create_elabel) with a unique
// index on the key property, agtype_access_operator(properties, '"key"'),
// plus indexes on vertex ids and edge endpoints. Vertices and edges are
// written straight into the label tables with INSERT ... ON CONFLICT on that
// index (never Cypher MERGE, which is slow and can duplicate vertices under
// concurrency); Cypher is for reads.
//
// # Writes
//
// Apply writes a batch in one transaction: the generation check, the offsets
// (locked), the merged states, vertices, edges, provenance, contributions,
// errors, the batch's classification changes added to the reclassifications
// log with the conflicts they bring against it (ON CONFLICT DO NOTHING, the
// new ones counted in MetricReclassificationConflicts once the transaction
// committed) and the next offsets. See Apply for the locking order that keeps
// concurrent projectors on different partitions correct and free of
// deadlocks. A batch holding a retraction or a classification change runs
// alone (an exclusive advisory lock of the generation).
//
// # Reads and clearance
//
// Every read for a reader takes a graph.Visibility and applies it in SQL:
// entityVisibleClause and relationVisibleClause (a relation needs both ends
// visible) are the one rule of what a reader sees. A read by key
// (EntityVisible, RecordVisible, Timeline, Neighbours, ShortestPath,
// CoOccurrences, Enrichments, SealedField) puts the filter in the WHERE
// clause of its first query and reads nothing more when no row qualifies,
// so a record above the reader's clearance costs the same work as one that
// does not exist: neither the answer nor its time tells them apart. Entity
// is EntityVisible with graph.SeeAll.
//
// # Layout versions
//
// heimdall.generations records per generation its layout (current) and
// created_layout. Upgrades in place are additive (upgradeLayout). Layout 6
// added the classification clocks, contributions and pending
// reclassifications: a generation upgraded to it counts its stored levels
// as observed at HLC 0, and since it has no contributions for what it held
// before, its retractions keep the recompute from provenance (sources and
// times only) while created_layout is below 6; a rebuild makes them exact.
// Layout 7 added the reclassifications' version vectors (inside the
// reclassification jsonb, and a vector column of pending
// reclassifications) and the conflicts table: registers stored before have
// no vector, which any other dominates, so no conflict is recorded against
// them until a rebuild. Layout 8 added the reclassifications log; an
// upgrade starts it with the registers the records and pending
// reclassifications keep (the losers met before are gone until a rebuild).
// Layout 9 added the retractions' reach (the highest classification rank a
// retraction takes back, graph.Retraction.Reach); retractions recorded
// before reach every level, as they did. A bounded retraction reads the
// contributions (or, on a generation without them, the provenance) of its
// batch or source with their records' levels and removes those
// graph.Retraction.TakenBack names; one reaching every level deletes by
// batch or source as before.
// Activate carries audited_at over to the new generation's conflicts, so a
// rebuild does not audit them again.
//
// # Generations
//
// On first start the store creates generation 1, active. BeginRebuild
// creates a building generation; a projector built with
// graph.WithGeneration fills it from offset 0; Activate switches readers to
// it atomically and retires the previous active generation, which stays
// until the next activation drops it (generations retired earlier are
// dropped with drop_graph(name, true)). The live projector then gets
// graph.ErrGenerationChanged and continues from the new generation's
// offsets. The projections/graph package documentation describes the flow.
package graphstore
