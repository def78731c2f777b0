package graphstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// retractLockClass is the advisory lock class serialising retractions
// against every other batch of a generation (object: the generation id).
const retractLockClass = 0x68656972 // "heir"

// lockForRetractions takes the generation's retraction lock: shared for an
// ordinary batch, exclusive for one holding a retraction or a
// classification change, so a batch never reads the retracted set while a
// retraction is being applied, and never creates a record while a
// reclassification of it is being parked as pending.
func lockForRetractions(ctx context.Context, tx pgx.Tx, gen graph.Generation, exclusive bool) error {
	fn := "pg_advisory_xact_lock_shared"
	if exclusive {
		fn = "pg_advisory_xact_lock"
	}
	if _, err := tx.Exec(ctx, `SELECT `+fn+`($1::integer, $2::integer)`, retractLockClass, int32(gen.ID)); err != nil {
		return fmt.Errorf("taking the retraction lock: %w", err)
	}
	return nil
}

// retracted reads what has been retracted in the generation, with the
// widest reach of each batch and source.
func retracted(ctx context.Context, tx pgx.Tx, g string) (graph.Retracted, error) {
	out := graph.Retracted{Batches: map[string]int{}, Sources: map[string]int{}}
	rows, err := tx.Query(ctx, `SELECT scope, id, reach FROM `+g+`.retractions`)
	if err != nil {
		return out, fmt.Errorf("reading retractions: %w", err)
	}
	var scope, id string
	var reach int
	_, err = pgx.ForEachRow(rows, []any{&scope, &id, &reach}, func() error {
		if scope == "batch" {
			out.Batches[id] = reach
		} else {
			out.Sources[id] = reach
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("reading retractions: %w", err)
	}
	return out, nil
}

// retractableTypes are the event types a retraction takes back (the
// projector ignores them once their batch or source is retracted);
// classification changes are never retracted.
var retractableTypes = []string{events.TypeEntityObserved, events.TypeRelationObserved, events.TypeEnrichmentRecorded}

// recordRetraction records r, keeping the widest reach of the retractions
// of its batch or source: the projector ignores the events of it that
// reach covers from now on.
func recordRetraction(ctx context.Context, tx pgx.Tx, g string, r graph.Retraction) error {
	if _, err := tx.Exec(ctx, `INSERT INTO `+g+`.retractions (scope, id, retracted_at, reach) VALUES ($1, $2, now(), $3)
		ON CONFLICT (scope, id) DO UPDATE SET reach = GREATEST(`+g+`.retractions.reach, EXCLUDED.reach)`, r.Scope, r.ID, r.Reach()); err != nil {
		return fmt.Errorf("recording retraction: %w", err)
	}
	return nil
}

// takenBack reads the candidates of a bounded retraction (every
// contribution of its batch or source, or for a generation without
// contributions every retractable provenance row, with its record's
// classification) and returns those the retraction takes back
// (graph.Retraction.TakenBack).
func takenBack(ctx context.Context, tx pgx.Tx, g string, r graph.Retraction, fromProvenance bool) ([]graph.RetractionCandidate, error) {
	q := `SELECT c.record_key, c.type, c.event_id::text, coalesce(es.classification, rs.classification, ''),
			es.key IS NOT NULL AND es.classification IS NULL
		FROM ` + g + `.contributions c
		LEFT JOIN ` + g + `.entity_state es ON es.key = c.record_key
		LEFT JOIN ` + g + `.relation_state rs ON rs.key = c.record_key
		WHERE c.` + scopeColumn(r) + ` = $1
		ORDER BY c.record_key, c.type, c.event_id`
	args := []any{r.ID}
	if fromProvenance {
		q = `SELECT p.record_key, CASE p.event_type WHEN $2 THEN 'entity' WHEN $3 THEN 'relation' ELSE 'enrichment' END,
				p.event_id::text, coalesce(es.classification, rs.classification, ''), es.key IS NOT NULL AND es.classification IS NULL
			FROM ` + g + `.provenance p
			LEFT JOIN ` + g + `.entity_state es ON es.key = p.record_key
			LEFT JOIN ` + g + `.relation_state rs ON rs.key = p.record_key
			WHERE p.` + scopeColumn(r) + ` = $1 AND p.event_type = ANY($4::text[])
			ORDER BY p.record_key, p.event_id`
		args = append(args, events.TypeEntityObserved, events.TypeRelationObserved, retractableTypes)
	}
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading what the retraction of %s %s covers: %w", r.Scope, r.ID, err)
	}
	var cands []graph.RetractionCandidate
	var c graph.RetractionCandidate
	var id string
	if _, err := pgx.ForEachRow(rows, []any{&c.RecordKey, &c.Type, &id, &c.Classification, &c.Endpoint}, func() error {
		u, err := uuid.Parse(id)
		if err != nil {
			return fmt.Errorf("event id %q: %w", id, err)
		}
		c.EventID = u
		cands = append(cands, c)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading what the retraction of %s %s covers: %w", r.Scope, r.ID, err)
	}
	return r.TakenBack(cands), nil
}

// candidateColumns are the (record key, type, event id) arrays of cs.
func candidateColumns(cs []graph.RetractionCandidate) (keys, types, ids []string) {
	for _, c := range cs {
		keys, types, ids = append(keys, c.RecordKey), append(types, c.Type), append(ids, c.EventID.String())
	}
	return keys, types, ids
}

// removeProvenance removes the provenance rows r takes back, returning the
// (record key, event type) of each row removed: every retractable row of
// its batch or source when r reaches every level (bounded is nil), else
// the rows of the (record, event) pairs in bounded.
func removeProvenance(ctx context.Context, tx pgx.Tx, g string, r graph.Retraction, bounded []graph.RetractionCandidate) (pgx.Rows, error) {
	if bounded == nil {
		rows, err := tx.Query(ctx, `DELETE FROM `+g+`.provenance WHERE `+scopeColumn(r)+` = $1 AND event_type = ANY($2::text[])
			RETURNING record_key, event_type`, r.ID, retractableTypes)
		if err != nil {
			return nil, fmt.Errorf("removing provenance: %w", err)
		}
		return rows, nil
	}
	keys, _, ids := candidateColumns(bounded)
	rows, err := tx.Query(ctx, `DELETE FROM `+g+`.provenance p USING unnest($1::text[], $2::uuid[]) AS u(k, id)
		WHERE p.record_key = u.k AND p.event_id = u.id AND p.event_type = ANY($3::text[])
		RETURNING p.record_key, p.event_type`, keys, ids, retractableTypes)
	if err != nil {
		return nil, fmt.Errorf("removing provenance: %w", err)
	}
	return rows, nil
}

// bounded returns what a retraction that does not reach every level takes
// back (never nil then), or nil for one that does.
func bounded(ctx context.Context, tx pgx.Tx, g string, r graph.Retraction, fromProvenance bool) ([]graph.RetractionCandidate, error) {
	if r.Reach() == graph.ReachAll {
		return nil, nil
	}
	taken, err := takenBack(ctx, tx, g, r, fromProvenance)
	if taken == nil {
		taken = []graph.RetractionCandidate{}
	}
	return taken, err
}

// scopeColumn is the provenance or contributions column a retraction
// matches.
func scopeColumn(r graph.Retraction) string {
	if r.Scope == "source" {
		return "source"
	}
	return "batch_id"
}

// applyRetractionLegacy is applyRetraction for generations created before
// contributions were kept (contributionsLayout): it removes the provenance
// rows of the batch or source; every record left without provenance (with
// its vertex or edge, and a vertex's remaining edges); for the others,
// sources and first/last seen recomputed from what remains. Attributes,
// version vectors and classifications keep what they had, so the result
// depends on whether the retraction came before or after the events: a
// rebuild makes it exact.
func (s *Store) applyRetractionLegacy(ctx context.Context, tx pgx.Tx, g string, r graph.Retraction) error {
	if err := recordRetraction(ctx, tx, g, r); err != nil {
		return err
	}
	taken, err := bounded(ctx, tx, g, r, true)
	if err != nil {
		return err
	}
	rows, err := removeProvenance(ctx, tx, g, r, taken)
	if err != nil {
		return err
	}
	entities, relations := map[string]bool{}, map[string]bool{}
	var key, typ string
	if _, err := pgx.ForEachRow(rows, []any{&key, &typ}, func() error {
		if typ == "relation.observed" {
			relations[key] = true
		} else if typ == "entity.observed" {
			entities[key] = true
		}
		return nil
	}); err != nil {
		return fmt.Errorf("removing provenance: %w", err)
	}
	for k := range relations {
		if err := s.recompute(ctx, tx, g, k, false); err != nil {
			return err
		}
	}
	for k := range entities {
		if err := s.recompute(ctx, tx, g, k, true); err != nil {
			return err
		}
	}
	return nil
}

// recompute brings one record in line with its remaining provenance.
func (s *Store) recompute(ctx context.Context, tx pgx.Tx, g, key string, entity bool) error {
	var n int64
	var sources []string
	var first, last *time.Time
	kind := "relation.observed"
	if entity {
		kind = "entity.observed"
	}
	if err := tx.QueryRow(ctx, `SELECT count(*), coalesce(array_agg(DISTINCT source ORDER BY source) FILTER (WHERE source <> ''), '{}'),
			min(observed_at), max(observed_at)
		FROM `+g+`.provenance WHERE record_key = $1 AND event_type = $2`, key, kind).Scan(&n, &sources, &first, &last); err != nil {
		return fmt.Errorf("recomputing %s: %w", key, err)
	}
	if entity {
		return s.recomputeEntity(ctx, tx, g, key, n, sources, first, last)
	}
	return s.recomputeRelation(ctx, tx, g, key, n, sources, first, last)
}

func (s *Store) recomputeRelation(ctx context.Context, tx pgx.Tx, g, key string, n int64, sources []string, first, last *time.Time) error {
	stored, err := lockRelations(ctx, tx, g, []string{key})
	if err != nil {
		return err
	}
	st, ok := stored[key]
	if !ok {
		return nil
	}
	if n == 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM `+g+`._ag_label_edge WHERE id = $1::text::ag_catalog.graphid`, st.graphid); err != nil {
			return fmt.Errorf("deleting edge %s: %w", key, err)
		}
		_, err := tx.Exec(ctx, `DELETE FROM `+g+`.relation_state WHERE key = $1`, key)
		return err
	}
	r := st.RelationState
	r.Sources, r.FirstSeen, r.LastSeen = sources, first.UTC(), last.UTC()
	return updateSeen(ctx, tx, g+".relation_state", g+"._ag_label_edge", key, st.graphid, r.Sources, r.FirstSeen, r.LastSeen, graph.EdgeProperties(r))
}

// updateSeen writes recomputed sources and times of a state row and the
// properties of its vertex or edge.
func updateSeen(ctx context.Context, tx pgx.Tx, table, elements, key, graphid string, sources []string, first, last time.Time, props []byte) error {
	src := string(graph.AppendJSONStrings(nil, sources))
	if _, err := tx.Exec(ctx, `UPDATE `+table+` SET sources = $2::jsonb, first_seen = $3, last_seen = $4 WHERE key = $1`,
		key, src, first, last); err != nil {
		return fmt.Errorf("updating %s: %w", key, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE `+elements+` SET properties = $2::text::ag_catalog.agtype WHERE id = $1::text::ag_catalog.graphid`,
		graphid, string(props)); err != nil {
		return fmt.Errorf("updating the graph element of %s: %w", key, err)
	}
	return nil
}

func (s *Store) recomputeEntity(ctx context.Context, tx pgx.Tx, g, key string, n int64, sources []string, first, last *time.Time) error {
	stored, err := lockEntities(ctx, tx, g, []string{key})
	if err != nil {
		return err
	}
	st, ok := stored[key]
	if !ok {
		return nil
	}
	if n == 0 {
		// Edges left at a vertex nobody observed any more came from the
		// same records (ingest observes both ends of every relation), so
		// they go with it.
		rows, err := tx.Query(ctx, `DELETE FROM `+g+`.relation_state WHERE source_key = $1 OR target_key = $1 RETURNING graphid::text`, key)
		if err != nil {
			return fmt.Errorf("deleting edges of %s: %w", key, err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM `+g+`._ag_label_edge WHERE id = ANY($1::text[]::ag_catalog.graphid[])`, ids); err != nil {
				return fmt.Errorf("deleting edges of %s: %w", key, err)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM `+g+`._ag_label_vertex WHERE id = $1::text::ag_catalog.graphid`, st.graphid); err != nil {
			return fmt.Errorf("deleting vertex %s: %w", key, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM `+g+`.similarity WHERE key = $1`, key); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM `+g+`.entity_state WHERE key = $1`, key)
		return err
	}
	e := st.EntityState
	e.Sources, e.FirstSeen, e.LastSeen = sources, first.UTC(), last.UTC()
	return updateSeen(ctx, tx, g+".entity_state", g+"._ag_label_vertex", key, st.graphid, e.Sources, e.FirstSeen, e.LastSeen, graph.VertexProperties(e))
}

// applyRetraction removes what one batch or source contributed, exactly
// (the state rows are the truth here: a missing vertex or edge is not an
// error, so a retraction never wedges a partition):
// its provenance rows and contributions go, and every record one of them
// touched is recomputed as the merge of its remaining contributions with
// its reclassification (graph.RecomputeEntity, RecomputeRelation): a
// record with none left is deleted (with its vertex or edge; its
// reclassification waits in pending_reclassifications), a vertex left only
// with relation endpoints becomes endpoint-only, and the enrichment view of
// each (record, provider) touched falls back to the latest remaining
// result. The graph is then what it would be had the retraction arrived
// before the events it covers, which the projector ignores.
func (s *Store) applyRetraction(ctx context.Context, tx pgx.Tx, g string, r graph.Retraction) error {
	if err := recordRetraction(ctx, tx, g, r); err != nil {
		return err
	}
	taken, err := bounded(ctx, tx, g, r, false)
	if err != nil {
		return err
	}
	rows, err := removeProvenance(ctx, tx, g, r, taken)
	if err != nil {
		return err
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("removing provenance: %w", err)
	}
	if taken == nil {
		rows, err = tx.Query(ctx, `DELETE FROM `+g+`.contributions WHERE `+scopeColumn(r)+` = $1
			RETURNING record_key, type, CASE WHEN type = 'enrichment' THEN delta->>'Provider' ELSE '' END`, r.ID)
	} else {
		keys, types, ids := candidateColumns(taken)
		rows, err = tx.Query(ctx, `DELETE FROM `+g+`.contributions c USING unnest($1::text[], $2::text[], $3::uuid[]) AS u(k, t, id)
			WHERE c.record_key = u.k AND c.type = u.t AND c.event_id = u.id
			RETURNING c.record_key, c.type, CASE WHEN c.type = 'enrichment' THEN c.delta->>'Provider' ELSE '' END`, keys, types, ids)
	}
	if err != nil {
		return fmt.Errorf("removing contributions: %w", err)
	}
	entities, relations, views := map[string]bool{}, map[string]bool{}, map[[2]string]bool{}
	var key, typ, provider string
	if _, err := pgx.ForEachRow(rows, []any{&key, &typ, &provider}, func() error {
		switch typ {
		case graph.ContributionEntity:
			entities[key] = true
		case graph.ContributionRelation:
			relations[key] = true
		default:
			views[[2]string{key, provider}] = true
		}
		return nil
	}); err != nil {
		return fmt.Errorf("removing contributions: %w", err)
	}
	if err := s.recomputeRelations(ctx, tx, g, sortedKeys(relations)); err != nil {
		return err
	}
	if err := s.recomputeEntities(ctx, tx, g, sortedKeys(entities)); err != nil {
		return err
	}
	return recomputeViews(ctx, tx, g, views)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// remaining reads the contributions of typ left for keys, by key.
func remaining(ctx context.Context, tx pgx.Tx, g, typ string, keys []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT record_key, delta::text FROM `+g+`.contributions
		WHERE type = $1 AND record_key = ANY($2::text[]) ORDER BY record_key, event_id`, typ, keys)
	if err != nil {
		return nil, fmt.Errorf("reading contributions: %w", err)
	}
	var k, d string
	if _, err := pgx.ForEachRow(rows, []any{&k, &d}, func() error { out[k] = append(out[k], d); return nil }); err != nil {
		return nil, fmt.Errorf("reading contributions: %w", err)
	}
	return out, nil
}

func (s *Store) recomputeRelations(ctx context.Context, tx pgx.Tx, g string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	stored, err := lockRelations(ctx, tx, g, keys)
	if err != nil {
		return err
	}
	left, err := remaining(ctx, tx, g, graph.ContributionRelation, keys)
	if err != nil {
		return err
	}
	var (
		w                 writes
		changed           []graph.RelationState
		ids, props, goneK []string
		goneIDs           []string
		park              []pendingReclass
	)
	for _, k := range keys {
		st, ok := stored[k]
		if !ok {
			continue
		}
		ds := make([]graph.RelationState, 0, len(left[k]))
		for _, d := range left[k] {
			r, err := decodeRelationDelta(k, d)
			if err != nil {
				return err
			}
			ds = append(ds, r)
		}
		r, ok := graph.RecomputeRelation(k, st.Reclassification, ds)
		if !ok {
			goneK, goneIDs = append(goneK, k), append(goneIDs, st.graphid)
			if st.Reclassification.Set() {
				park = append(park, pendingReclass{typ: graph.ContributionRelation, key: k, r: st.Reclassification})
			}
			continue
		}
		// The edge keeps its type and endpoints.
		r.Type, r.SourceKey, r.TargetKey = st.Type, st.SourceKey, st.TargetKey
		if r.Equal(st.RelationState) {
			continue
		}
		changed = append(changed, r)
		ids, props = append(ids, st.graphid), append(props, string(graph.EdgeProperties(r)))
	}
	if len(changed) > 0 {
		queueRelationUpdate(&w, g, changed)
		w.queue(-1, `UPDATE `+g+`._ag_label_edge AS e SET properties = u.p::ag_catalog.agtype
			FROM unnest($1::text[], $2::text[]) AS u(id, p) WHERE e.id = u.id::ag_catalog.graphid`, ids, props)
	}
	if len(goneK) > 0 {
		w.queue(-1, `DELETE FROM `+g+`._ag_label_edge WHERE id = ANY($1::text[]::ag_catalog.graphid[])`, goneIDs)
		w.queue(-1, `DELETE FROM `+g+`.relation_state WHERE key = ANY($1::text[])`, goneK)
	}
	queuePending(&w, g, park)
	if err := w.send(ctx, tx); err != nil {
		return fmt.Errorf("recomputing relations: %w", err)
	}
	return nil
}

func (s *Store) recomputeEntities(ctx context.Context, tx pgx.Tx, g string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	stored, err := lockEntities(ctx, tx, g, keys)
	if err != nil {
		return err
	}
	left, err := remaining(ctx, tx, g, graph.ContributionEntity, keys)
	if err != nil {
		return err
	}
	var (
		w                 writes
		changed           []graph.EntityState
		ids, props, goneK []string
		goneIDs           []string
		park              []pendingReclass
	)
	for _, k := range keys {
		st, ok := stored[k]
		if !ok {
			continue
		}
		ds := make([]graph.EntityState, 0, len(left[k]))
		for _, d := range left[k] {
			e, err := decodeEntityDelta(k, d)
			if err != nil {
				return err
			}
			ds = append(ds, e)
		}
		e, ok := graph.RecomputeEntity(k, st.Reclassification, ds)
		if !ok {
			goneK, goneIDs = append(goneK, k), append(goneIDs, st.graphid)
			if st.Reclassification.Set() {
				park = append(park, pendingReclass{typ: graph.ContributionEntity, key: k, r: st.Reclassification})
			}
			continue
		}
		if e.Equal(st.EntityState) {
			continue
		}
		changed = append(changed, e)
		ids, props = append(ids, st.graphid), append(props, string(graph.VertexProperties(e)))
	}
	if len(changed) > 0 {
		queueEntityUpdate(&w, g, changed)
		w.queue(-1, `UPDATE `+g+`._ag_label_vertex AS v SET properties = u.p::ag_catalog.agtype
			FROM unnest($1::text[], $2::text[]) AS u(id, p) WHERE v.id = u.id::ag_catalog.graphid`, ids, props)
	}
	if len(goneK) > 0 {
		// Every edge at a vertex left without contributions came from
		// the same events (they contribute their endpoints), so none
		// should be left; any that is goes with the vertex.
		w.queue(-1, `DELETE FROM `+g+`._ag_label_edge WHERE id IN (SELECT graphid FROM `+g+`.relation_state
			WHERE source_key = ANY($1::text[]) OR target_key = ANY($1::text[]))`, goneK)
		w.queue(-1, `DELETE FROM `+g+`.relation_state WHERE source_key = ANY($1::text[]) OR target_key = ANY($1::text[])`, goneK)
		w.queue(-1, `DELETE FROM `+g+`._ag_label_vertex WHERE id = ANY($1::text[]::ag_catalog.graphid[])`, goneIDs)
		w.queue(-1, `DELETE FROM `+g+`.similarity WHERE key = ANY($1::text[])`, goneK)
		w.queue(-1, `DELETE FROM `+g+`.entity_state WHERE key = ANY($1::text[])`, goneK)
	}
	queuePending(&w, g, park)
	if err := w.send(ctx, tx); err != nil {
		return fmt.Errorf("recomputing entities: %w", err)
	}
	return nil
}

// recomputeViews sets the enrichment view of each (record, provider) to the
// latest remaining result, or removes it.
func recomputeViews(ctx context.Context, tx pgx.Tx, g string, pairs map[[2]string]bool) error {
	if len(pairs) == 0 {
		return nil
	}
	keys := map[string]bool{}
	for p := range pairs {
		keys[p[0]] = true
	}
	left, err := remaining(ctx, tx, g, graph.ContributionEnrichment, sortedKeys(keys))
	if err != nil {
		return err
	}
	results := map[[2]string][]graph.EnrichmentResult{}
	for k, ds := range left {
		for _, d := range ds {
			var r graph.EnrichmentResult
			if err := json.Unmarshal([]byte(d), &r); err != nil {
				return fmt.Errorf("decoding an enrichment contribution to %s: %w", k, err)
			}
			p := [2]string{k, r.Provider}
			if pairs[p] {
				results[p] = append(results[p], r)
			}
		}
	}
	ordered := make([][2]string, 0, len(pairs))
	for p := range pairs {
		ordered = append(ordered, p)
	}
	slices.SortFunc(ordered, func(a, b [2]string) int {
		if c := compareStrings(a[0], b[0]); c != 0 {
			return c
		}
		return compareStrings(a[1], b[1])
	})
	var w writes
	var latest []graph.EnrichmentResult
	for _, p := range ordered {
		w.queue(-1, `DELETE FROM `+g+`.enrichments WHERE record_key = $1 AND provider = $2`, p[0], p[1])
		if r, ok := graph.LatestEnrichment(results[p]); ok {
			latest = append(latest, r)
		}
	}
	queueEnrichments(&w, g, latest)
	if err := w.send(ctx, tx); err != nil {
		return fmt.Errorf("recomputing the enrichment view: %w", err)
	}
	return nil
}
