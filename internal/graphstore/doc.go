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
//     graphid, version vector and attributes (jsonb);
//   - relation_state: merged state per edge key, with its endpoints' keys;
//   - provenance: one row per (record key, event id);
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
// (locked), the merged states, vertices, edges, provenance, errors and the
// next offsets. See Apply for the locking order that keeps concurrent
// projectors on different partitions correct and free of deadlocks.
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
