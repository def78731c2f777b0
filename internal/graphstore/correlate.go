package graphstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heimdallhub/heimdall/projections/graph"
)

// MaxPage bounds one page of a listing.
const MaxPage = 1000

// Timeline returns the events that built an entity (or relation), newest
// first, a page at a time: before is the event id to continue after (the
// last one of the previous page; uuid.Nil for the first page). The entity
// must exist for the reader.
func (s *Store) Timeline(ctx context.Context, key string, before uuid.UUID, limit int, vis graph.Visibility) ([]graph.ProvenanceRecord, error) {
	if limit < 1 || limit > MaxPage {
		return nil, fmt.Errorf("limit must be 1 to %d", MaxPage)
	}
	var out []graph.ProvenanceRecord
	err := s.readActive(ctx, func(tx pgx.Tx, gen graph.Generation) error {
		g := quoteIdent(gen.Graph)
		typ, err := recordVisible(ctx, tx, g, key, visibleLevels(vis))
		if err != nil {
			return err
		}
		if typ == "" {
			return graph.ErrNotFound
		}
		cursor := "ffffffff-ffff-ffff-ffff-ffffffffffff"
		if before != uuid.Nil {
			cursor = before.String()
		}
		rows, err := tx.Query(ctx, `SELECT record_key, event_id::text, event_type, source, format, file, line, byte_offset,
				batch_id, actor_sub, actor_iss, request_id, origin_peer, recorded_at, observed_at
			FROM `+g+`.provenance WHERE record_key = $1 AND event_id < $2::uuid ORDER BY event_id DESC LIMIT $3`, key, cursor, limit)
		if err != nil {
			return err
		}
		var p graph.ProvenanceRecord
		var id string
		_, err = pgx.ForEachRow(rows, []any{&p.RecordKey, &id, &p.EventType, &p.Provenance.Source, &p.Provenance.Format,
			&p.Provenance.File, &p.Provenance.Line, &p.Provenance.ByteOffset, &p.BatchID, &p.Actor.Subject, &p.Actor.Issuer,
			&p.RequestID, &p.OriginPeer, &p.RecordedAt, &p.ObservedAt}, func() error {
			u, err := uuid.Parse(id)
			if err != nil {
				return err
			}
			w := p
			w.EventID, w.RecordedAt, w.ObservedAt = u, p.RecordedAt.UTC(), p.ObservedAt.UTC()
			out = append(out, w)
			return nil
		})
		return err
	})
	if errors.Is(err, graph.ErrNotFound) {
		return nil, fmt.Errorf("timeline of %s: %w", key, graph.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("timeline of %s: %w", key, err)
	}
	return out, nil
}

// Correlate lists the entities the reader may see that match q, by key.
func (s *Store) Correlate(ctx context.Context, q graph.CorrelationQuery, vis graph.Visibility) ([]graph.VertexView, error) {
	if q.Limit < 1 || q.Limit > MaxPage {
		return nil, fmt.Errorf("limit must be 1 to %d", MaxPage)
	}
	var out []graph.VertexView
	err := s.readActive(ctx, func(tx pgx.Tx, gen graph.Generation) error {
		g := quoteIdent(gen.Graph)
		var sources, batches []string
		if len(q.Sources) > 0 {
			sources = q.Sources
		}
		if len(q.Batches) > 0 {
			batches = q.Batches
		}
		rows, err := tx.Query(ctx, `SELECT key FROM `+g+`.entity_state e
			WHERE e.first_seen IS NOT NULL AND e.key > $1 AND ($2 = '' OR e.kind = $2)
			AND jsonb_array_length(e.sources) >= $3
			AND ($4::text[] IS NULL OR e.sources @> to_jsonb($4::text[]))
			AND ($5::text[] IS NULL OR (SELECT count(DISTINCT p.batch_id) FROM `+g+`.provenance p
				WHERE p.record_key = e.key AND p.batch_id = ANY($5::text[])) = cardinality($5::text[]))
			AND `+visibleClause("e.classification", 6)+`
			ORDER BY e.key LIMIT $7`, q.After, q.Kind, q.MinSources, sources, batches, visibleLevels(vis), q.Limit)
		if err != nil {
			return err
		}
		keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		out, err = vertices(ctx, tx, g, keys, visibleLevels(vis))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("correlating: %w", err)
	}
	return out, nil
}

// CoOccurrences returns the entities the reader may see that were observed
// within window of an observation of key (from the same source), ranked by
// how often; the root's own observations are capped to the newest 1000.
func (s *Store) CoOccurrences(ctx context.Context, key string, window time.Duration, limit int, vis graph.Visibility) ([]graph.CoOccurring, error) {
	if limit < 1 || limit > MaxPage {
		return nil, fmt.Errorf("limit must be 1 to %d", MaxPage)
	}
	if window <= 0 || window > 7*24*time.Hour {
		return nil, errors.New("window must be positive and at most 7 days")
	}
	var out []graph.CoOccurring
	err := s.readActive(ctx, func(tx pgx.Tx, gen graph.Generation) error {
		g := quoteIdent(gen.Graph)
		levels := visibleLevels(vis)
		root, err := vertices(ctx, tx, g, []string{key}, levels)
		if err != nil {
			return err
		}
		if len(root) == 0 {
			return graph.ErrNotFound
		}
		rows, err := tx.Query(ctx, `WITH mine AS (
				SELECT observed_at, source FROM `+g+`.provenance WHERE record_key = $1 AND event_type = 'entity.observed'
				ORDER BY event_id DESC LIMIT 1000)
			SELECT p.record_key, count(*) FROM mine m JOIN `+g+`.provenance p
				ON p.source = m.source AND p.observed_at BETWEEN m.observed_at - $2::interval AND m.observed_at + $2::interval
			WHERE p.record_key <> $1 AND p.event_type = 'entity.observed'
			GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $3`, key, window.String(), limit*4+20)
		if err != nil {
			return err
		}
		counts := map[string]int64{}
		var keys []string
		var k string
		var n int64
		if _, err := pgx.ForEachRow(rows, []any{&k, &n}, func() error { counts[k] = n; keys = append(keys, k); return nil }); err != nil {
			return err
		}
		vs, err := vertices(ctx, tx, g, keys, levels)
		if err != nil {
			return err
		}
		for _, v := range vs {
			out = append(out, graph.CoOccurring{Vertex: v, Count: counts[v.Key]})
		}
		return nil
	})
	if errors.Is(err, graph.ErrNotFound) {
		return nil, fmt.Errorf("co-occurrences of %s: %w", key, graph.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("co-occurrences of %s: %w", key, err)
	}
	sortCoOccurring(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func sortCoOccurring(cs []graph.CoOccurring) {
	slices.SortFunc(cs, func(a, b graph.CoOccurring) int {
		if a.Count != b.Count {
			return cmp.Compare(b.Count, a.Count)
		}
		return cmp.Compare(a.Vertex.Key, b.Vertex.Key)
	})
}

// recordVisible returns "entity" or "relation" when key is a record the
// reader may see (a relation only with both ends), else "".
func recordVisible(ctx context.Context, tx pgx.Tx, g, key string, levels []string) (string, error) {
	var typ string
	err := tx.QueryRow(ctx, `SELECT CASE
			WHEN EXISTS (SELECT 1 FROM `+g+`.entity_state e WHERE e.key = $1 AND `+entityVisibleClause("e", 2)+`) THEN 'entity'
			WHEN EXISTS (SELECT 1 FROM `+g+`.relation_state r WHERE r.key = $1 AND `+relationVisibleClause(g, "r", 2)+`) THEN 'relation'
			ELSE '' END`, key, levels).Scan(&typ)
	return typ, err
}

// RecordVisible returns the type ("entity" or "relation") of a record the
// reader may see, or graph.ErrNotFound.
func (s *Store) RecordVisible(ctx context.Context, key string, vis graph.Visibility) (string, error) {
	var typ string
	err := s.readActive(ctx, func(tx pgx.Tx, gen graph.Generation) error {
		var err error
		typ, err = recordVisible(ctx, tx, quoteIdent(gen.Graph), key, visibleLevels(vis))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("reading record %s: %w", key, err)
	}
	if typ == "" {
		return "", fmt.Errorf("reading record %s: %w", key, graph.ErrNotFound)
	}
	return typ, nil
}
