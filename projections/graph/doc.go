// Package graph projects entity and relation events into the graph read
// model: one vertex per canonical entity key, one edge per relationship key,
// each carrying the merged state of every event about it.
//
// # Merge rules
//
// EntityState and RelationState merge with MergeEntity and MergeRelation:
// first_seen is the earliest observed_at, last_seen the latest, sources the
// sorted set union of provenance sources, the version vector the element-wise
// maximum, attributes the union of values per name, and the classification
// follows the rule below. Merging is commutative, associative and
// idempotent, so re-delivered, duplicated or re-ordered events leave the
// graph unchanged, and a replay builds the same graph as the live projector.
// A relation event also makes sure both endpoint vertices exist; an endpoint
// contributes only its key, kind and value to the vertex state.
//
// # Classification
//
// Levels rank UNCLASSIFIED < CONFIDENTIAL < SECRET < TOP SECRET < anything
// unknown or empty (SetLevels may configure others). A record's
// classification is derived from two parts of its state, both merged by
// maximum:
//
//   - the reclassification register (Reclassification): of all
//     classification.changed events about the record, the one with the
//     greatest (HLC, origin peer id, event id) — a last-writer-wins
//     register; ties of HLC go to the greater peer id, then event id
//     (then level, for a forged log); the register keeps the winner's
//     version vector;
//   - the level clock (LevelClock): per level, the greatest HLC at which an
//     observation (entity.observed, relation.observed, or an enrichment
//     result adding the record) with that level was seen.
//
// The effective level (Effective) is the winning reclassification's level,
// raised by every level whose latest observation has an HLC greater than
// the reclassification's (an observation at the same HLC does not count);
// without a reclassification it is the highest level observed. So a
// reclassification overrides what was observed before it in HLC order,
// observations after it can only raise it, and the result is the same
// whatever order peers' events arrive in. A reclassification of a record
// that does not exist (yet) never creates it: the store keeps it and merges
// it into the record when the record appears. Classification changes are
// never retracted. States stored before level clocks existed count their
// stored level as observed at HLC 0.
//
// # Causality and conflicts
//
// The classify command (commands/classify) reads the record's current
// register and writes a change whose HLC is greater than the current
// winner's and whose version vector is the winner's merged with its own
// peer's entry: a change made after seeing another dominates it, and its
// greater HLC makes it win, so last-writer-wins by HLC agrees with
// causality. The winner is still chosen by (HLC, peer, event id, level)
// alone, never by the vectors (a rule mixing both would not be
// associative), which keeps the merge commutative, associative and
// idempotent; two registers of one event that differ only in their vectors
// (a forged log) merge their vectors.
//
// Every classification change is also kept in a conflict log per record
// (Changes.Reclassifications). A new change is compared with every change
// of its record the log holds (NewConflicts, DetectConflict): a dominated
// one is already reflected in the other and a dominating one supersedes
// it, neither is a conflict; concurrent ones (made without seeing each
// other, at different peers) are a Conflict, resolved by RuleLWWHLC. The
// store records every conflict in the batch's transaction, keyed by record
// and both event ids, so a replay or a duplicate records nothing new. So
// the recorded conflicts are exactly the concurrent pairs of changes of
// each record, whatever order the events arrived in and however they were
// batched: peers with the same events record the same conflicts (and have
// the same graph). The conflict log is an audit trail kept beside the
// graph, not part of it (nor of its digest).
//
// Every recorded conflict is also appended to the audit topic as an
// audit.recorded event (ConflictAudit: action sync.conflict, outcome
// resolved, both events, peers, levels and HLCs, the rule), with an id
// derived from the two event ids and the detecting peer. The projector
// does not append it itself: it consumes the events topic and commits its
// offsets with the graph in Postgres, and an append inside that
// transaction could neither be rolled back with it nor be waited for
// without holding the batch's locks on Kafka. Instead the store keeps the
// conflicts as an outbox (audited_at unset) and ConflictAuditor, run beside
// the live projector, appends their events once the batch committed, waits
// for the acknowledgements and marks them audited: at least once, and a
// repeat (a crash before the mark, a rebuild re-detecting a conflict, two
// projector processes) has the same event id, which the audit trail stores
// once. Activating a rebuilt generation carries the marks over.
//
// # Order
//
// Peers replicate their logs, so each projector sees the same events in a
// different order; every rule is order-free:
//
//   - states: by the merge laws above;
//   - the enrichment view (Changes.Enrichments, one result per record and
//     provider): the later completion wins, then the greater event id, in
//     the batch and in the store alike;
//   - retractions: a retraction covers the batch or source it names
//     wherever it lands in the log. Events of a retracted batch or source
//     that arrive after it are ignored (plan); those that arrived before are
//     taken back by the store, which keeps every event's contribution to
//     every record (Contribution) and recomputes each record it touched as
//     the merge of the contributions left (RecomputeEntity,
//     RecomputeRelation, LatestEnrichment): a record left with none is
//     deleted, a vertex left only as the end of another batch's relation
//     becomes an endpoint, and the enrichment view falls back to the latest
//     result left. That is what the graph would be had the retraction come
//     first. Retractions and classification changes are applied exclusively
//     (ApplyRequest.Exclusive), so they never race with other batches.
//   - a retraction reaches only what its actor may see: it carries the
//     retracting actor's clearance (RetractionRequested.Clearance; empty in
//     retractions written before, which reach every level), and
//     Retraction.TakenBack is the rule: of the batch's or source's
//     contributions, those to records at or below the clearance (by the
//     record's effective level when the retraction is applied) are taken
//     back, those to records above it stay, so such a record is left
//     exactly as it was; an event's contributions to vertices stay while
//     its contribution to a relation does (an edge keeps its ends). Of the
//     events of it applied later, those whose own classification is at or
//     below the clearance are ignored (Retracted.Ignores). The rule is a
//     function of the records and the events, so a replay of the log and
//     every peer applying it in the same order agree; between arrival
//     orders it agrees on what the retracting actor may see, and may
//     differ only inside records above the clearance (a lower-level
//     event of the batch about a record that is above the clearance is
//     kept if it arrived first and ignored if it arrived after) unless
//     such a record is later reclassified down.
//
// What still depends on arrival, and why it does not matter: a vertex's
// label and an edge's type and endpoints are fixed when it is created, but
// they are derived from its key (kind and value; relation type and
// endpoint keys), so a well-formed log never disagrees with them (a
// disagreement is logged); graphids, offsets, projection errors (keyed by
// partition and offset) and the lazily created label tables (created for
// every label a batch names, retracted or not) are local to a projector and
// not part of the graph; a state's kind and value keep the smallest
// non-empty string, which is order-free. Generations created before the
// store kept contributions approximate retractions that arrive after their
// events until they are rebuilt (see internal/graphstore).
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
