package graphstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heimdallhub/heimdall/internal/embedding"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// similarityDim is the dimension of the similarity table's vectors.
const similarityDim = 256

// MaxSimilarLimit bounds a look-alike query.
const MaxSimilarLimit = 200

// embeddable reports whether a vertex gets a look-alike vector: domains and
// URLs whose value is not personal (a pseudonym or a sealed value has no
// shape worth comparing, and must not be embedded).
func embeddable(kind, value string) bool {
	if kind != "domain-name" && kind != "url" {
		return false
	}
	for _, p := range []string{"ps:", "enc:", "tok:"} {
		if strings.HasPrefix(value, p) {
			return false
		}
	}
	return true
}

// vectorText renders a vector in pgvector's text form.
func vectorText(v []float32) string {
	b := make([]byte, 0, len(v)*10+2)
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(x), 'g', -1, 32)
	}
	return string(append(b, ']'))
}

// queueEmbeddings queues the vectors of newly inserted vertices.
func (s *Store) queueEmbeddings(out *writes, g string, inserted []graph.EntityState) {
	var keys, vecs []string
	for _, d := range inserted {
		if !embeddable(d.Kind, d.Value) {
			continue
		}
		v, err := s.embedder.Embed(d.Kind, d.Value)
		if err != nil {
			continue // not a domain the embedder can read: no vector, no error
		}
		keys, vecs = append(keys, d.Key), append(vecs, vectorText(v))
	}
	if len(keys) == 0 {
		return
	}
	out.queue(-1, `INSERT INTO `+g+`.similarity (key, model, embedding)
		SELECT u.key, $3, u.emb::vector FROM unnest($1::text[], $2::text[]) AS u(key, emb)
		ON CONFLICT (key) DO NOTHING`, keys, vecs, s.embedder.Version())
}

// Similar returns the vertices whose values look most like value (a domain
// or URL), best first, among those the reader may see. Exact is the
// canonical spelling; it is excluded from the results.
func (s *Store) Similar(ctx context.Context, kind, value string, limit int, vis graph.Visibility) ([]graph.Match, error) {
	if limit < 1 || limit > MaxSimilarLimit {
		return nil, fmt.Errorf("limit must be 1 to %d", MaxSimilarLimit)
	}
	q, err := s.embedder.Embed(kind, value)
	if errors.Is(err, embedding.ErrUnsupportedKind) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("embedding the query: %w", err)
	}
	var out []graph.Match
	err = s.readActive(ctx, func(tx pgx.Tx, gen graph.Generation) error {
		g := quoteIdent(gen.Graph)
		// Filtered HNSW scans keep going until enough rows pass the filter.
		if _, err := tx.Exec(ctx, `SET LOCAL hnsw.iterative_scan = relaxed_order`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SET LOCAL hnsw.ef_search = 100`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT e.key, e.label, e.kind, e.value, e.first_seen, e.last_seen, e.sources::text,
				coalesce(e.classification, ''), 1 - (m.distance) AS similarity
			FROM (SELECT key, embedding <=> $1::vector AS distance FROM `+g+`.similarity
				WHERE model = $4 ORDER BY embedding <=> $1::vector LIMIT $2 * 4 + 20) m
			JOIN `+g+`.entity_state e ON e.key = m.key
			WHERE e.value <> $5 AND `+visibleClause("e.classification", 3)+`
			ORDER BY m.distance, e.key LIMIT $2`, vectorText(q), limit, visibleLevels(vis), s.embedder.Version(), value)
		if err != nil {
			return fmt.Errorf("searching look-alikes: %w", err)
		}
		var r graph.Match
		var fs, ls *time.Time
		var src string
		_, err = pgx.ForEachRow(rows, []any{&r.Vertex.Key, &r.Vertex.Label, &r.Vertex.Kind, &r.Vertex.Value, &fs, &ls, &src,
			&r.Vertex.Classification, &r.Similarity}, func() error {
			w := r
			if fs != nil && ls != nil {
				w.Vertex.FirstSeen, w.Vertex.LastSeen = fs.UTC(), ls.UTC()
			}
			if err := decodeJSONStrings(src, &w.Vertex.Sources); err != nil {
				return err
			}
			out = append(out, w)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
