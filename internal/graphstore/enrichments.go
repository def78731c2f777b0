package graphstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// queueEnrichments queues the upsert of enrichment results: a stored result
// is replaced only by a later one.
func queueEnrichments(out *writes, g string, rs []graph.EnrichmentResult) {
	for _, r := range rs {
		attrs := r.Attributes
		if attrs == nil {
			attrs = []events.Attribute{}
		}
		ab, _ := json.Marshal(attrs)
		rels := r.Relations
		if rels == nil {
			rels = []string{}
		}
		rb, _ := json.Marshal(rels)
		var emb *string
		if len(r.Vector) > 0 {
			t := vectorText(r.Vector)
			emb = &t
		}
		out.queue(-1, `INSERT INTO `+g+`.enrichments
				(record_key, provider, provider_type, job_id, event_id, outcome, error_class, error_reason, data_version,
				 classification, attempts, requested_at, completed_at, expires_at, attributes, relations, embedding)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, $16::jsonb, $17::text::vector)
			ON CONFLICT (record_key, provider) DO UPDATE SET
				provider_type = EXCLUDED.provider_type, job_id = EXCLUDED.job_id, event_id = EXCLUDED.event_id,
				outcome = EXCLUDED.outcome, error_class = EXCLUDED.error_class, error_reason = EXCLUDED.error_reason,
				data_version = EXCLUDED.data_version, classification = EXCLUDED.classification, attempts = EXCLUDED.attempts,
				requested_at = EXCLUDED.requested_at, completed_at = EXCLUDED.completed_at, expires_at = EXCLUDED.expires_at,
				attributes = EXCLUDED.attributes, relations = EXCLUDED.relations, embedding = EXCLUDED.embedding
			WHERE (EXCLUDED.completed_at, EXCLUDED.event_id) > (`+g+`.enrichments.completed_at, `+g+`.enrichments.event_id)`,
			r.RecordKey, r.Provider, r.ProviderType, r.JobID, r.EventID, r.Outcome, r.ErrorClass, r.ErrorReason, r.DataVersion,
			r.Classification, r.Attempts, r.RequestedAt, r.CompletedAt, r.ExpiresAt, string(ab), string(rb), emb)
	}
}

// EnrichmentView is one provider's latest result about a record, as the
// query API shows it.
type EnrichmentView struct {
	Provider       string             `json:"provider"`
	ProviderType   string             `json:"provider_type"`
	Outcome        string             `json:"outcome"`
	ErrorClass     string             `json:"error_class,omitempty"`
	ErrorReason    string             `json:"error_reason,omitempty"`
	DataVersion    string             `json:"data_version,omitempty"`
	Classification string             `json:"classification"`
	Attempts       int32              `json:"attempts"`
	RequestedAt    time.Time          `json:"requested_at"`
	CompletedAt    time.Time          `json:"completed_at"`
	ExpiresAt      time.Time          `json:"expires_at"`
	Attributes     []events.Attribute `json:"attributes"`
	Relations      []string           `json:"relations"`
	Dimensions     int                `json:"embedding_dimensions,omitempty"`
	EventID        uuid.UUID          `json:"event_id"`
	JobID          string             `json:"job_id"`
}

// Enrichments returns the enrichment view of a record that vis allows,
// by provider; graph.ErrNotFound if the record itself is not visible. The
// record's visibility is one query whether it is hidden or absent (nothing
// more is read for a record the reader may not see).
func (s *Store) Enrichments(ctx context.Context, key string, vis graph.Visibility) ([]EnrichmentView, error) {
	var out []EnrichmentView
	levels := visibleLevels(vis)
	err := s.readActive(ctx, func(tx pgx.Tx, gen graph.Generation) error {
		g := quoteIdent(gen.Graph)
		var visible bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+g+`.entity_state e WHERE e.key = $1 AND `+entityVisibleClause("e", 2)+`)`,
			key, levels).Scan(&visible); err != nil {
			return err
		}
		if !visible {
			return graph.ErrNotFound
		}
		rows, err := tx.Query(ctx, `SELECT provider, provider_type, outcome, error_class, error_reason, data_version, classification,
				attempts, requested_at, completed_at, expires_at, attributes::text, relations::text,
				COALESCE(vector_dims(embedding), 0), event_id, job_id
			FROM `+g+`.enrichments WHERE record_key = $1 ORDER BY provider`, key)
		if err != nil {
			return err
		}
		var v EnrichmentView
		var attrs, rels string
		_, err = pgx.ForEachRow(rows, []any{&v.Provider, &v.ProviderType, &v.Outcome, &v.ErrorClass, &v.ErrorReason, &v.DataVersion,
			&v.Classification, &v.Attempts, &v.RequestedAt, &v.CompletedAt, &v.ExpiresAt, &attrs, &rels, &v.Dimensions, &v.EventID, &v.JobID}, func() error {
			if !vis.Allows(v.Classification) {
				return nil
			}
			w := v
			w.RequestedAt, w.CompletedAt, w.ExpiresAt = v.RequestedAt.UTC(), v.CompletedAt.UTC(), v.ExpiresAt.UTC()
			if err := json.Unmarshal([]byte(attrs), &w.Attributes); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(rels), &w.Relations); err != nil {
				return err
			}
			out = append(out, w)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading enrichments of %s: %w", key, err)
	}
	if out == nil {
		out = []EnrichmentView{}
	}
	return out, nil
}
