package graphstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// Apply writes one batch in one transaction (see graph.ApplyRequest):
//
//  1. the generation row is read FOR SHARE (Activate's update of it waits
//     for the transaction; later ones see the new state);
//  2. the offset rows of the batch's partitions are locked in order, and
//     the plan filters out records below them;
//  3. entity state rows missing for the batch's keys are inserted with the
//     batch's state (ON CONFLICT DO NOTHING, in key order), the others are
//     locked FOR NO KEY UPDATE in key order, merged in Go (graph.MergeEntity)
//     and updated when they changed; relations likewise, after entities;
//  4. the vertices and edges of new states are inserted into their label
//     tables, those of changed states rewritten (see apply for how), and
//     provenance, contributions and projection errors inserted (ON
//     CONFLICT DO NOTHING), pending reclassifications kept or merged
//     (settlePending), the batch's classification changes added to the
//     reclassifications log with the conflicts they bring against it
//     (graph.NewConflicts) and the next offsets stored, in one pipelined
//     round trip;
//  5. retractions are applied last (applyRetraction).
//
// Concurrent batches on different partitions may touch the same keys: the
// lock order (offsets, entity inserts then locks by key, relation inserts
// then locks by key) keeps them free of deadlocks, and a batch that still
// fails with a deadlock or serialization failure is retried.
func (s *Store) Apply(ctx context.Context, req graph.ApplyRequest) error {
	safe := false
	for attempt := 0; ; attempt++ {
		var conflicts int64
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var err error
			conflicts, err = s.apply(ctx, tx, req, safe)
			return err
		})
		if err == nil {
			s.conflicts.Add(float64(conflicts))
			return nil
		}
		if !safe && (uniqueViolation(err) || errors.Is(err, errElementMissing)) {
			// The label tables and the state rows disagree (something
			// else wrote a label table): write every element with an
			// upsert, which mends either way.
			s.log.Warn("graph batch retried with upserts", "generation", req.Generation.ID, "err", err)
			safe = true
			continue
		}
		if !retriable(err) || attempt >= s.maxRetries {
			return err
		}
		s.log.Warn("graph batch retried", "attempt", attempt+1, "generation", req.Generation.ID, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
		}
	}
}

func retriable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

func uniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// apply runs one attempt. Vertices and edges of states this transaction
// creates are inserted (their state row's primary key proves they are new,
// and a plain insert probes the agtype key index once where an upsert probes
// it twice); vertices of changed states are updated by graphid, edges of
// changed states upserted. With safe, every element is upserted. It
// returns how many reclassification conflicts it recorded that were not
// recorded before.
func (s *Store) apply(ctx context.Context, tx pgx.Tx, req graph.ApplyRequest, safe bool) (int64, error) {
	gen := req.Generation
	if !s.durable {
		if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			return 0, fmt.Errorf("setting synchronous_commit: %w", err)
		}
	}
	var state string
	var createdLayout int
	err := tx.QueryRow(ctx, "SELECT state, created_layout FROM heimdall.generations WHERE id = $1 FOR SHARE", gen.ID).Scan(&state, &createdLayout)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, graph.ErrGenerationChanged
	}
	if err != nil {
		return 0, fmt.Errorf("checking generation %d: %w", gen.ID, err)
	}
	if st := graph.GenerationState(state); st == graph.GenerationRetired || (req.RequireActive && st != graph.GenerationActive) {
		return 0, graph.ErrGenerationChanged
	}
	g := quoteIdent(gen.Graph)
	exact := createdLayout >= contributionsLayout
	if err := lockForRetractions(ctx, tx, gen, req.Exclusive); err != nil {
		return 0, err
	}
	gone, err := retracted(ctx, tx, g)
	if err != nil {
		return 0, err
	}

	next, err := lockOffsets(ctx, tx, g, req.Partitions)
	if err != nil {
		return 0, err
	}
	ch, err := req.Plan(next, gone)
	if err != nil {
		return 0, fmt.Errorf("planning batch: %w", err)
	}
	var final writes
	ids, err := s.applyEntities(ctx, tx, gen, ch.Entities, &final, safe)
	if err != nil {
		return 0, err
	}
	if err := s.applyRelations(ctx, tx, gen, ch.Relations, ids, &final, safe); err != nil {
		return 0, err
	}
	queueProvenance(&final, g, ch.Provenance)
	queueEnrichments(&final, g, ch.Enrichments)
	if exact {
		queueContributions(&final, g, ch.Contributions)
	}
	queueErrors(&final, g, ch.Errors)
	var conflicts int64
	if len(ch.Reclassifications) > 0 {
		cs, err := newConflicts(ctx, tx, g, ch.Reclassifications)
		if err != nil {
			return 0, err
		}
		queueReclassifications(&final, g, ch.Reclassifications)
		queueConflicts(&final, g, cs, &conflicts)
	}
	queueOffsets(&final, g, ch.Offsets)
	if err := final.send(ctx, tx); err != nil {
		return 0, fmt.Errorf("writing graph changes: %w", err)
	}
	for _, r := range ch.Retractions {
		apply := s.applyRetractionLegacy
		if exact {
			apply = s.applyRetraction
		}
		if err := apply(ctx, tx, g, r); err != nil {
			return 0, err
		}
	}
	return conflicts, nil
}

func lockOffsets(ctx context.Context, tx pgx.Tx, g string, parts []graph.TopicPartition) (map[graph.TopicPartition]int64, error) {
	parts = slices.Clone(parts)
	slices.SortFunc(parts, func(a, b graph.TopicPartition) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition) - int(b.Partition)
	})
	topics := make([]string, len(parts))
	nums := make([]int32, len(parts))
	for i, p := range parts {
		topics[i], nums[i] = p.Topic, p.Partition
	}
	// Rows must exist to be locked; a fresh row says 0, which skips nothing.
	if _, err := tx.Exec(ctx, `INSERT INTO `+g+`.offsets (topic, partition, next_offset)
		SELECT t, p, 0 FROM unnest($1::text[], $2::integer[]) AS u(t, p) ORDER BY t COLLATE "C", p
		ON CONFLICT DO NOTHING`, topics, nums); err != nil {
		return nil, fmt.Errorf("locking offsets: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT o.topic, o.partition, o.next_offset FROM `+g+`.offsets o
		JOIN unnest($1::text[], $2::integer[]) AS u(t, p) ON o.topic = u.t AND o.partition = u.p
		ORDER BY o.topic, o.partition FOR UPDATE OF o`, topics, nums)
	if err != nil {
		return nil, fmt.Errorf("locking offsets: %w", err)
	}
	next := map[graph.TopicPartition]int64{}
	var tp graph.TopicPartition
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&tp.Topic, &tp.Partition, &n}, func() error {
		next[tp] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("locking offsets: %w", err)
	}
	return next, nil
}

// storedEntity is an entity state row with where its vertex lives.
type storedEntity struct {
	graph.EntityState
	label   string
	graphid string
}

// applyEntities merges the batch's entity states into the stored ones and
// queues their vertex upserts. It returns the graphid of every entity key in
// the batch.
//
// Which keys exist is read first, without locks. The missing ones are
// inserted with the batch's state (in key order, ON CONFLICT DO NOTHING,
// which waits for a transaction inserting the same key); then the existing
// ones and those another transaction created meanwhile are locked in key
// order and merged. Inserting before locking keeps concurrent batches free
// of deadlocks: an insert only waits for another insert, and row locks are
// only taken, in one order, on committed rows.
func (s *Store) applyEntities(ctx context.Context, tx pgx.Tx, gen graph.Generation, deltas []graph.EntityState, out *writes, safe bool) (map[string]string, error) {
	ids := make(map[string]string, len(deltas))
	if len(deltas) == 0 {
		return ids, nil
	}
	g := quoteIdent(gen.Graph)
	keys := make([]string, len(deltas))
	for i, d := range deltas {
		keys[i] = d.Key
	}
	exists, pending, err := existing(ctx, tx, g, graph.ContributionEntity, keys)
	if err != nil {
		return nil, fmt.Errorf("reading entity states: %w", err)
	}
	deltas, err = settlePending(out, g, graph.ContributionEntity, deltas, exists, pending,
		func(d graph.EntityState) (string, bool, graph.Reclassification) {
			return d.Key, d.ClassifyOnly, d.Reclassification
		},
		func(d graph.EntityState, r graph.Reclassification) graph.EntityState {
			return graph.MergeEntity(d, graph.EntityState{Key: d.Key, Reclassification: r, ClassifyOnly: true})
		})
	if err != nil {
		return nil, err
	}
	vertices := map[target]*propBatch{}
	var missing []graph.EntityState
	lock := make([]string, 0, len(exists))
	for _, d := range deltas {
		if exists[d.Key] {
			lock = append(lock, d.Key)
		} else {
			missing = append(missing, d)
		}
	}
	if len(missing) > 0 {
		cols := entityColumns(missing)
		lnames, lids, lseqs, err := s.labelArrays(gen, cols.labels)
		if err != nil {
			return nil, err
		}
		rows, err := tx.Query(ctx, `INSERT INTO `+g+`.entity_state AS s
				(key, label, graphid, kind, value, first_seen, last_seen, sources, vector, attributes, classification,
				 reclassification, levels)
			SELECT u.key, u.label, ag_catalog._graphid(l.id, nextval(l.seq)), u.kind, u.value, u.fs, u.ls,
				u.src::jsonb, u.vec::jsonb, u.attrs::jsonb, u.cls, u.rc::jsonb, u.lv::jsonb
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
				$7::text[], $8::text[], $9::text[], $10::text[], $14::text[], $15::text[])
				AS u(key, label, kind, value, fs, ls, src, vec, attrs, cls, rc, lv)
			JOIN unnest($11::text[], $12::integer[], $13::text[]::regclass[]) AS l(name, id, seq) ON l.name = u.label
			ORDER BY u.key COLLATE "C"
			ON CONFLICT (key) DO NOTHING
			RETURNING s.key, s.graphid::text`,
			cols.keys, cols.labels, cols.kinds, cols.values, cols.firstSeen, cols.lastSeen,
			cols.sources, cols.vectors, cols.attrs, cols.classes, lnames, lids, lseqs, cols.reclass, cols.levels)
		if err != nil {
			return nil, fmt.Errorf("inserting entity states: %w", err)
		}
		var key, id string
		if _, err := pgx.ForEachRow(rows, []any{&key, &id}, func() error { ids[key] = id; return nil }); err != nil {
			return nil, fmt.Errorf("inserting entity states: %w", err)
		}
		var inserted []graph.EntityState
		for i, d := range missing {
			if id, ok := ids[d.Key]; ok {
				addVertex(vertices, target{cols.labels[i], newMode(safe)}, id, d)
				inserted = append(inserted, d)
			} else {
				lock = append(lock, d.Key) // created by another transaction meanwhile
			}
		}
		s.queueEmbeddings(out, g, inserted)
	}
	stored := map[string]storedEntity{}
	if len(lock) > 0 {
		if stored, err = lockEntities(ctx, tx, g, lock); err != nil {
			return nil, err
		}
	}

	// Merge into the states that existed and update those that changed.
	var changed []graph.EntityState
	for _, d := range deltas {
		if _, inserted := ids[d.Key]; inserted {
			continue
		}
		st, ok := stored[d.Key]
		if !ok {
			return nil, fmt.Errorf("entity state %s neither inserted nor found", d.Key)
		}
		ids[d.Key] = st.graphid
		merged := graph.MergeEntity(st.EntityState, d)
		if merged.Equal(st.EntityState) {
			continue
		}
		if l := merged.Label(); l != st.label {
			s.log.Warn("entity kind changed its label; the vertex keeps its label", "key", d.Key,
				"label", st.label, "new_label", l, "graph", gen.Graph)
		}
		changed = append(changed, merged)
		addVertex(vertices, target{st.label, changedMode(safe)}, st.graphid, merged)
	}
	if len(changed) > 0 {
		queueEntityUpdate(out, g, changed)
	}
	queueElements(out, g, vertices, false)
	return ids, nil
}

// queueEntityUpdate queues the rewrite of changed entity state rows.
func queueEntityUpdate(out *writes, g string, changed []graph.EntityState) {
	u := entityColumns(changed)
	out.queue(-1, `UPDATE `+g+`.entity_state AS s SET kind = u.kind, value = u.value, first_seen = u.fs,
			last_seen = u.ls, sources = u.src::jsonb, vector = u.vec::jsonb, attributes = u.attrs::jsonb,
			classification = u.cls, reclassification = u.rc::jsonb, levels = u.lv::jsonb
		FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
			$6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
			AS u(key, kind, value, fs, ls, src, vec, attrs, cls, rc, lv)
		WHERE s.key = u.key`,
		u.keys, u.kinds, u.values, u.firstSeen, u.lastSeen, u.sources, u.vectors, u.attrs, u.classes, u.reclass, u.levels)
}

// queueRelationUpdate queues the rewrite of changed relation state rows
// (their endpoints and type stay).
func queueRelationUpdate(out *writes, g string, changed []graph.RelationState) {
	u := relationColumns(changed)
	out.queue(-1, `UPDATE `+g+`.relation_state AS s SET first_seen = u.fs, last_seen = u.ls,
			sources = u.src::jsonb, vector = u.vec::jsonb, attributes = u.attrs::jsonb, classification = u.cls,
			reclassification = u.rc::jsonb, levels = u.lv::jsonb
		FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::text[])
			AS u(key, fs, ls, src, vec, attrs, cls, rc, lv)
		WHERE s.key = u.key`,
		u.keys, u.firstSeen, u.lastSeen, u.sources, u.vectors, u.attrs, u.classes, u.reclass, u.levels)
}

// settlePending applies the rules of reclassifications against existence:
// a reclassification-only delta of a record that does not exist is kept
// as pending (and never creates the record); a pending reclassification
// is merged into the delta of a record the batch touches (creating or
// updating it), and dropped from the pending ones. Either way the result
// is what it would be had the reclassification arrived after the record.
// The batch runs exclusively when it holds reclassifications
// (graph.ApplyRequest.Exclusive), so no other transaction creates a record
// or adds a pending reclassification meanwhile.
func settlePending[S any](out *writes, g, typ string, deltas []S, exists map[string]bool, pending map[string]graph.Reclassification,
	parts func(S) (key string, classifyOnly bool, r graph.Reclassification), with func(S, graph.Reclassification) S) ([]S, error) {
	var keep []S
	var park []pendingReclass
	var merged []string
	for _, d := range deltas {
		key, only, r := parts(d)
		if only && !exists[key] {
			if p, ok := pending[key]; ok {
				r = graph.LaterReclassification(r, p)
			}
			park = append(park, pendingReclass{typ: typ, key: key, r: r})
			continue
		}
		if p, ok := pending[key]; ok {
			d = with(d, p)
			merged = append(merged, key)
		}
		keep = append(keep, d)
	}
	queuePending(out, g, park)
	queueDropPending(out, g, typ, merged)
	return keep, nil
}

func lockEntities(ctx context.Context, tx pgx.Tx, g string, keys []string) (map[string]storedEntity, error) {
	rows, err := tx.Query(ctx, `SELECT key, label, graphid::text, kind, value, first_seen, last_seen,
			sources::text, vector::text, attributes::text, classification, reclassification::text, levels::text
		FROM `+g+`.entity_state WHERE key = ANY($1::text[]) ORDER BY key FOR NO KEY UPDATE`, keys)
	if err != nil {
		return nil, fmt.Errorf("locking entity states: %w", err)
	}
	out := make(map[string]storedEntity, len(keys))
	var (
		st                   storedEntity
		fs, ls               *time.Time
		src, vec, attrs      string
		cls                  *string
		key, kind, value, id string
		label, levels        string
		rc                   *string
	)
	_, err = pgx.ForEachRow(rows, []any{&key, &label, &id, &kind, &value, &fs, &ls, &src, &vec, &attrs, &cls, &rc, &levels}, func() error {
		st = storedEntity{label: label, graphid: id}
		st.Key, st.Kind, st.Value = key, kind, value
		if fs != nil && ls != nil && cls != nil {
			st.Observed, st.FirstSeen, st.LastSeen, st.Classification = true, fs.UTC(), ls.UTC(), *cls
		}
		if err := decodeJSONState(src, vec, attrs, &st.Sources, &st.Vector, &st.Attributes); err != nil {
			return fmt.Errorf("entity state %s: %w", key, err)
		}
		var err error
		if st.Reclassification, err = decodeReclass(rc); err != nil {
			return fmt.Errorf("entity state %s: %w", key, err)
		}
		if st.Levels, err = decodeLevels(levels); err != nil {
			return fmt.Errorf("entity state %s: %w", key, err)
		}
		out[key] = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("locking entity states: %w", err)
	}
	return out, nil
}

type storedRelation struct {
	graph.RelationState
	label   string
	graphid string
}

// applyRelations does for relations what applyEntities does for entities.
// ids holds the graphids of every endpoint.
func (s *Store) applyRelations(ctx context.Context, tx pgx.Tx, gen graph.Generation, deltas []graph.RelationState, ids map[string]string, out *writes, safe bool) error {
	if len(deltas) == 0 {
		return nil
	}
	g := quoteIdent(gen.Graph)
	keys := make([]string, len(deltas))
	for i, d := range deltas {
		keys[i] = d.Key
	}
	exists, pending, err := existing(ctx, tx, g, graph.ContributionRelation, keys)
	if err != nil {
		return fmt.Errorf("reading relation states: %w", err)
	}
	deltas, err = settlePending(out, g, graph.ContributionRelation, deltas, exists, pending,
		func(d graph.RelationState) (string, bool, graph.Reclassification) {
			return d.Key, d.ClassifyOnly, d.Reclassification
		},
		func(d graph.RelationState, r graph.Reclassification) graph.RelationState {
			return graph.MergeRelation(d, graph.RelationState{Key: d.Key, Reclassification: r, ClassifyOnly: true})
		})
	if err != nil {
		return err
	}
	edges := map[target]*propBatch{}
	add := func(label, id string, r graph.RelationState) error {
		start, end := ids[r.SourceKey], ids[r.TargetKey]
		if start == "" || end == "" {
			return fmt.Errorf("relation %s: an endpoint has no vertex", r.Key)
		}
		addEdge(edges, target{label, newMode(safe)}, id, start, end, r)
		return nil
	}
	inserted := map[string]string{}
	var missing []graph.RelationState
	lock := make([]string, 0, len(exists))
	for _, d := range deltas {
		if exists[d.Key] {
			lock = append(lock, d.Key)
		} else {
			missing = append(missing, d)
		}
	}
	if len(missing) > 0 {
		cols := relationColumns(missing)
		lnames, lids, lseqs, err := s.labelArrays(gen, cols.types)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `INSERT INTO `+g+`.relation_state AS s
				(key, label, graphid, source_key, target_key, first_seen, last_seen, sources, vector, attributes, classification,
				 reclassification, levels)
			SELECT u.key, u.label, ag_catalog._graphid(l.id, nextval(l.seq)), u.sk, u.tk, u.fs, u.ls,
				u.src::jsonb, u.vec::jsonb, u.attrs::jsonb, u.cls, u.rc::jsonb, u.lv::jsonb
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
				$7::text[], $8::text[], $9::text[], $10::text[], $14::text[], $15::text[])
				AS u(key, label, sk, tk, fs, ls, src, vec, attrs, cls, rc, lv)
			JOIN unnest($11::text[], $12::integer[], $13::text[]::regclass[]) AS l(name, id, seq) ON l.name = u.label
			ORDER BY u.key COLLATE "C"
			ON CONFLICT (key) DO NOTHING
			RETURNING s.key, s.graphid::text`,
			cols.keys, cols.types, cols.sourceKeys, cols.targetKeys, cols.firstSeen, cols.lastSeen,
			cols.sources, cols.vectors, cols.attrs, cols.classes, lnames, lids, lseqs, cols.reclass, cols.levels)
		if err != nil {
			return fmt.Errorf("inserting relation states: %w", err)
		}
		var key, id string
		if _, err := pgx.ForEachRow(rows, []any{&key, &id}, func() error { inserted[key] = id; return nil }); err != nil {
			return fmt.Errorf("inserting relation states: %w", err)
		}
		for i, d := range missing {
			if id, ok := inserted[d.Key]; ok {
				if err := add(cols.types[i], id, d); err != nil {
					return err
				}
			} else {
				lock = append(lock, d.Key) // created by another transaction meanwhile
			}
		}
	}
	stored := map[string]storedRelation{}
	if len(lock) > 0 {
		if stored, err = lockRelations(ctx, tx, g, lock); err != nil {
			return err
		}
	}
	// A reclassification's delta carries no endpoints: the upsert of its edge
	// needs the stored endpoints' vertex ids.
	var need []string
	for _, d := range deltas {
		if st, ok := stored[d.Key]; ok && d.ClassifyOnly {
			for _, k := range []string{st.SourceKey, st.TargetKey} {
				if ids[k] == "" {
					need = append(need, k)
				}
			}
		}
	}
	if len(need) > 0 {
		rows, err := tx.Query(ctx, `SELECT key, graphid::text FROM `+g+`.entity_state WHERE key = ANY($1::text[])`, need)
		if err != nil {
			return fmt.Errorf("reading endpoint vertices: %w", err)
		}
		var k, id string
		if _, err := pgx.ForEachRow(rows, []any{&k, &id}, func() error { ids[k] = id; return nil }); err != nil {
			return fmt.Errorf("reading endpoint vertices: %w", err)
		}
	}
	var changed []graph.RelationState
	for _, d := range deltas {
		if _, ins := inserted[d.Key]; ins {
			continue
		}
		st, ok := stored[d.Key]
		if !ok {
			return fmt.Errorf("relation state %s neither inserted nor found", d.Key)
		}
		merged := graph.MergeRelation(st.RelationState, d)
		if d.ClassifyOnly {
			d.SourceKey, d.TargetKey = st.SourceKey, st.TargetKey
		}
		if merged.Type != st.Type || merged.SourceKey != st.SourceKey || merged.TargetKey != st.TargetKey {
			s.log.Warn("relation type or endpoints differ from the stored edge; the edge keeps them", "key", d.Key, "graph", gen.Graph)
			merged.Type, merged.SourceKey, merged.TargetKey = st.Type, st.SourceKey, st.TargetKey
		}
		if merged.Equal(st.RelationState) {
			continue
		}
		changed = append(changed, merged)
		// The endpoints of an existing edge are not updated; the values
		// given here only fill the insert half of the upsert.
		addEdge(edges, target{st.label, modeUpsert}, st.graphid, ids[d.SourceKey], ids[d.TargetKey], merged)
	}
	if len(changed) > 0 {
		queueRelationUpdate(out, g, changed)
	}
	queueElements(out, g, edges, true)
	return nil
}

func lockRelations(ctx context.Context, tx pgx.Tx, g string, keys []string) (map[string]storedRelation, error) {
	rows, err := tx.Query(ctx, `SELECT key, label, graphid::text, source_key, target_key, first_seen, last_seen,
			sources::text, vector::text, attributes::text, classification, reclassification::text, levels::text
		FROM `+g+`.relation_state WHERE key = ANY($1::text[]) ORDER BY key FOR NO KEY UPDATE`, keys)
	if err != nil {
		return nil, fmt.Errorf("locking relation states: %w", err)
	}
	out := make(map[string]storedRelation, len(keys))
	var (
		st                               storedRelation
		key, label, id, sk, tk, src, vec string
		attrs, cls, levels               string
		rc                               *string
		fs, ls                           time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&key, &label, &id, &sk, &tk, &fs, &ls, &src, &vec, &attrs, &cls, &rc, &levels}, func() error {
		st = storedRelation{label: label, graphid: id}
		st.Key, st.Type, st.SourceKey, st.TargetKey = key, label, sk, tk
		st.FirstSeen, st.LastSeen, st.Classification = fs.UTC(), ls.UTC(), cls
		if err := decodeJSONState(src, vec, attrs, &st.Sources, &st.Vector, &st.Attributes); err != nil {
			return fmt.Errorf("relation state %s: %w", key, err)
		}
		var err error
		if st.Reclassification, err = decodeReclass(rc); err != nil {
			return fmt.Errorf("relation state %s: %w", key, err)
		}
		if st.Levels, err = decodeLevels(levels); err != nil {
			return fmt.Errorf("relation state %s: %w", key, err)
		}
		out[key] = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("locking relation states: %w", err)
	}
	return out, nil
}

func decodeJSONState(src, vec, attrs string, sources *[]string, vector *events.VersionVector, attributes *graph.Attributes) error {
	var ss []string
	if err := json.Unmarshal([]byte(src), &ss); err != nil {
		return fmt.Errorf("decoding sources: %w", err)
	}
	if len(ss) > 0 {
		*sources = ss
	}
	var v events.VersionVector
	if err := json.Unmarshal([]byte(vec), &v); err != nil {
		return fmt.Errorf("decoding version vector: %w", err)
	}
	if len(v) > 0 {
		*vector = v
	}
	var a graph.Attributes
	if err := json.Unmarshal([]byte(attrs), &a); err != nil {
		return fmt.Errorf("decoding attributes: %w", err)
	}
	if len(a) > 0 {
		*attributes = a
	}
	return nil
}

// labelArrays returns the label table of the labels used, for the SQL join
// that allocates graphids.
func (s *Store) labelArrays(gen graph.Generation, used []string) (names []string, ids []int32, seqs []string, err error) {
	seen := map[string]bool{}
	for _, l := range used {
		if seen[l] {
			continue
		}
		seen[l] = true
		info, ok := s.label(gen.ID, l)
		if !ok {
			return nil, nil, nil, fmt.Errorf("label %s of graph %s was not created (EnsureLabels)", l, gen.Graph)
		}
		names, ids, seqs = append(names, l), append(ids, info.id), append(seqs, info.seq)
	}
	return names, ids, seqs, nil
}

type entityCols struct {
	keys, labels, kinds, values []string
	firstSeen, lastSeen         []*time.Time
	sources, vectors, attrs     []string
	classes, reclass            []*string
	levels                      []string
}

func entityColumns(ss []graph.EntityState) entityCols {
	n := len(ss)
	c := entityCols{
		keys: make([]string, n), labels: make([]string, n), kinds: make([]string, n), values: make([]string, n),
		firstSeen: make([]*time.Time, n), lastSeen: make([]*time.Time, n),
		sources: make([]string, n), vectors: make([]string, n), attrs: make([]string, n), classes: make([]*string, n),
		reclass: make([]*string, n), levels: make([]string, n),
	}
	for i, s := range ss {
		c.reclass[i], c.levels[i] = encodeReclass(s.Reclassification), encodeLevels(s.Levels)
		c.keys[i], c.labels[i], c.kinds[i], c.values[i] = s.Key, s.Label(), s.Kind, s.Value
		if s.Observed {
			fs, ls, cls := s.FirstSeen, s.LastSeen, s.Classification
			c.firstSeen[i], c.lastSeen[i], c.classes[i] = &fs, &ls, &cls
		}
		c.sources[i], c.vectors[i], c.attrs[i] = encodeJSONState(s.Sources, s.Vector, s.Attributes)
	}
	return c
}

type relationCols struct {
	keys, types, sourceKeys, targetKeys []string
	firstSeen, lastSeen                 []time.Time
	sources, vectors, attrs, classes    []string
	reclass                             []*string
	levels                              []string
}

func relationColumns(rs []graph.RelationState) relationCols {
	n := len(rs)
	c := relationCols{
		keys: make([]string, n), types: make([]string, n), sourceKeys: make([]string, n), targetKeys: make([]string, n),
		firstSeen: make([]time.Time, n), lastSeen: make([]time.Time, n),
		sources: make([]string, n), vectors: make([]string, n), attrs: make([]string, n), classes: make([]string, n),
		reclass: make([]*string, n), levels: make([]string, n),
	}
	for i, r := range rs {
		c.reclass[i], c.levels[i] = encodeReclass(r.Reclassification), encodeLevels(r.Levels)
		c.keys[i], c.types[i], c.sourceKeys[i], c.targetKeys[i] = r.Key, r.Type, r.SourceKey, r.TargetKey
		c.firstSeen[i], c.lastSeen[i], c.classes[i] = r.FirstSeen, r.LastSeen, r.Classification
		c.sources[i], c.vectors[i], c.attrs[i] = encodeJSONState(r.Sources, r.Vector, r.Attributes)
	}
	return c
}

func encodeJSONState(sources []string, vector events.VersionVector, attrs graph.Attributes) (string, string, string) {
	return string(graph.AppendJSONStrings(nil, sources)), string(graph.AppendJSONVector(nil, vector)),
		string(graph.AppendJSONAttributes(nil, attrs))
}

// target is a label table and how rows are written to it.
type target struct {
	label string
	mode  writeMode
}

type writeMode int

const (
	// modeInsert inserts elements of states this transaction created.
	modeInsert writeMode = iota
	// modeUpdate rewrites the properties of existing vertices, found by id.
	modeUpdate
	// modeUpsert inserts or, on a key conflict, rewrites the properties.
	modeUpsert
)

// propBatch collects the rows to write into one label table.
type propBatch struct {
	ids, starts, ends, props []string
}

func addVertex(m map[target]*propBatch, t target, id string, s graph.EntityState) {
	b := m[t]
	if b == nil {
		b = &propBatch{}
		m[t] = b
	}
	b.ids, b.props = append(b.ids, id), append(b.props, string(graph.VertexProperties(s)))
}

func addEdge(m map[target]*propBatch, t target, id, start, end string, r graph.RelationState) {
	b := m[t]
	if b == nil {
		b = &propBatch{}
		m[t] = b
	}
	b.ids, b.starts, b.ends = append(b.ids, id), append(b.starts, start), append(b.ends, end)
	b.props = append(b.props, string(graph.EdgeProperties(r)))
}

func newMode(safe bool) writeMode {
	if safe {
		return modeUpsert
	}
	return modeInsert
}

func changedMode(safe bool) writeMode {
	if safe {
		return modeUpsert
	}
	return modeUpdate
}

// writes is the pipelined tail of a batch: statements and, for those whose
// row count proves something, the count expected.
type writes struct {
	batch  pgx.Batch
	expect []int64  // per queued statement; -1 when any count will do
	count  []*int64 // per queued statement: where to store its row count, if anywhere
}

func (w *writes) queue(expect int64, sql string, args ...any) {
	w.batch.Queue(sql, args...)
	w.expect = append(w.expect, expect)
	w.count = append(w.count, nil)
}

// queueCounted queues a statement whose row count is stored in n.
func (w *writes) queueCounted(n *int64, sql string, args ...any) {
	w.queue(-1, sql, args...)
	w.count[len(w.count)-1] = n
}

// errElementMissing says an update by graphid found fewer vertices than
// state rows: the batch is retried with upserts.
var errElementMissing = errors.New("a vertex of a stored state is missing")

func (w *writes) send(ctx context.Context, tx pgx.Tx) error {
	if w.batch.Len() == 0 {
		return nil
	}
	br := tx.SendBatch(ctx, &w.batch)
	for i, want := range w.expect {
		ct, err := br.Exec()
		if err != nil {
			br.Close()
			return err
		}
		if w.count[i] != nil {
			*w.count[i] = ct.RowsAffected()
		}
		if want >= 0 && ct.RowsAffected() != want {
			br.Close()
			return errElementMissing
		}
	}
	return br.Close()
}

// queueElements queues one statement per label table and mode, in order.
func queueElements(out *writes, g string, m map[target]*propBatch, edges bool) {
	targets := make([]target, 0, len(m))
	for t := range m {
		targets = append(targets, t)
	}
	slices.SortFunc(targets, func(a, b target) int {
		if c := strings.Compare(a.label, b.label); c != 0 {
			return c
		}
		return int(a.mode) - int(b.mode)
	})
	for _, t := range targets {
		b := m[t]
		table := g + "." + quoteIdent(t.label)
		conflict := ""
		switch t.mode {
		case modeUpdate:
			// Found by the id index, not by a second probe of the
			// (slower) agtype key index.
			out.queue(int64(len(b.ids)), `UPDATE `+table+` AS v SET properties = u.p::ag_catalog.agtype
				FROM unnest($1::text[], $2::text[]) AS u(id, p) WHERE v.id = u.id::ag_catalog.graphid`,
				b.ids, b.props)
			continue
		case modeUpsert:
			conflict = ` ON CONFLICT ` + keyExpr + ` DO UPDATE SET properties = EXCLUDED.properties`
		}
		if edges {
			out.queue(-1, `INSERT INTO `+table+` (id, start_id, end_id, properties)
				SELECT u.id::ag_catalog.graphid, u.s::ag_catalog.graphid, u.e::ag_catalog.graphid, u.p::ag_catalog.agtype
				FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(id, s, e, p)`+conflict,
				b.ids, b.starts, b.ends, b.props)
			continue
		}
		out.queue(-1, `INSERT INTO `+table+` (id, properties)
			SELECT u.id::ag_catalog.graphid, u.p::ag_catalog.agtype
			FROM unnest($1::text[], $2::text[]) AS u(id, p)`+conflict,
			b.ids, b.props)
	}
}

func queueProvenance(out *writes, g string, ps []graph.ProvenanceRecord) {
	if len(ps) == 0 {
		return
	}
	n := len(ps)
	var (
		keys, ids, types, sources, formats, files = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		lines, offsets                            = make([]int64, n), make([]int64, n)
		batches, subs, isss, reqs, peers          = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		recorded, observed                        = make([]time.Time, n), make([]time.Time, n)
	)
	for i, p := range ps {
		keys[i], ids[i], types[i] = p.RecordKey, p.EventID.String(), p.EventType
		sources[i], formats[i], files[i] = p.Provenance.Source, p.Provenance.Format, p.Provenance.File
		lines[i], offsets[i] = p.Provenance.Line, p.Provenance.ByteOffset
		batches[i], subs[i], isss[i], reqs[i], peers[i] = p.BatchID, p.Actor.Subject, p.Actor.Issuer, p.RequestID, p.OriginPeer
		recorded[i], observed[i] = p.RecordedAt, p.ObservedAt
	}
	out.queue(-1, `INSERT INTO `+g+`.provenance (record_key, event_id, event_type, source, format, file, line, byte_offset,
			batch_id, actor_sub, actor_iss, request_id, origin_peer, recorded_at, observed_at)
		SELECT * FROM unnest($1::text[], $2::text[]::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
			$7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
			$14::timestamptz[], $15::timestamptz[])
		ON CONFLICT (record_key, event_id) DO NOTHING`,
		keys, ids, types, sources, formats, files, lines, offsets, batches, subs, isss, reqs, peers, recorded, observed)
}

func queueErrors(out *writes, g string, es []graph.RecordError) {
	if len(es) == 0 {
		return
	}
	topics, parts, offsets, reasons := make([]string, len(es)), make([]int32, len(es)), make([]int64, len(es)), make([]string, len(es))
	for i, e := range es {
		topics[i], parts[i], offsets[i], reasons[i] = e.Topic, e.Partition, e.Offset, e.Reason
	}
	out.queue(-1, `INSERT INTO `+g+`.projection_errors (topic, partition, "offset", reason)
		SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::text[])
		ON CONFLICT DO NOTHING`, topics, parts, offsets, reasons)
}

func queueOffsets(out *writes, g string, next map[graph.TopicPartition]int64) {
	if len(next) == 0 {
		return
	}
	var topics []string
	var parts []int32
	var offsets []int64
	for tp, n := range next {
		topics, parts, offsets = append(topics, tp.Topic), append(parts, tp.Partition), append(offsets, n)
	}
	out.queue(-1, `INSERT INTO `+g+`.offsets AS o (topic, partition, next_offset)
		SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[])
		ON CONFLICT (topic, partition) DO UPDATE
		SET next_offset = GREATEST(o.next_offset, EXCLUDED.next_offset), updated_at = now()`,
		topics, parts, offsets)
}
