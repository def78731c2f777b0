package graphstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heimdallhub/heimdall/projections/graph"
)

// retractLockClass is the advisory lock class serialising retractions
// against every other batch of a generation (object: the generation id).
const retractLockClass = 0x68656972 // "heir"

// lockForRetractions takes the generation's retraction lock: shared for an
// ordinary batch, exclusive for one holding a retraction, so a batch never
// reads the retracted set while a retraction is being applied.
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

// retracted reads what has been retracted in the generation.
func retracted(ctx context.Context, tx pgx.Tx, g string) (graph.Retracted, error) {
	out := graph.Retracted{Batches: map[string]bool{}, Sources: map[string]bool{}}
	rows, err := tx.Query(ctx, `SELECT scope, id FROM `+g+`.retractions`)
	if err != nil {
		return out, fmt.Errorf("reading retractions: %w", err)
	}
	var scope, id string
	_, err = pgx.ForEachRow(rows, []any{&scope, &id}, func() error {
		if scope == "batch" {
			out.Batches[id] = true
		} else {
			out.Sources[id] = true
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("reading retractions: %w", err)
	}
	return out, nil
}

// applyRetraction removes what one batch or source contributed: its
// provenance rows; every record left without provenance (with its vertex
// or edge, and a vertex's remaining edges); for the others, sources and
// first/last seen recomputed from what remains. Attributes, version
// vectors and classifications keep what they had: events are not stored
// beside the read model, so only a rebuild recomputes those.
func (s *Store) applyRetraction(ctx context.Context, tx pgx.Tx, g string, r graph.Retraction) error {
	if _, err := tx.Exec(ctx, `INSERT INTO `+g+`.retractions (scope, id, retracted_at) VALUES ($1, $2, now())
		ON CONFLICT DO NOTHING`, r.Scope, r.ID); err != nil {
		return fmt.Errorf("recording retraction: %w", err)
	}
	column := "batch_id"
	if r.Scope == "source" {
		column = "source"
	}
	rows, err := tx.Query(ctx, `DELETE FROM `+g+`.provenance WHERE `+column+` = $1 RETURNING record_key, event_type`, r.ID)
	if err != nil {
		return fmt.Errorf("removing provenance: %w", err)
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
