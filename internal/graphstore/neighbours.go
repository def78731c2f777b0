package graphstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heimdallhub/heimdall/projections/graph"
)

// visibleLevels returns the SQL parameter of a visibility: nil means all.
func visibleLevels(vis graph.Visibility) []string {
	if vis.All() {
		return nil
	}
	return vis.Levels()
}

// visibleClause restricts a classification column (NULL: the highest level)
// to the levels in parameter $n; with SeeAll it is always true.
func visibleClause(column string, n int) string {
	return fmt.Sprintf("($%d::text[] IS NULL OR coalesce(%s, '') = ANY($%d::text[]))", n, column, n)
}

// entityVisibleClause is the rule of which entities (rows of entity_state
// as alias) a reader with the levels in parameter $n may see: those at one
// of those levels (an entity never observed has no level, so only SeeAll
// sees it). Reads by key apply it in SQL, so a row the reader may not see
// costs the database the same work as a row that does not exist, and
// nothing more is read after it: no timing oracle.
func entityVisibleClause(alias string, n int) string {
	return visibleClause(alias+".classification", n)
}

// relationVisibleClause is the rule of which relations (rows of
// relation_state as alias, in graph schema g) a reader may see: at one of
// the levels in parameter $n, with both ends visible.
func relationVisibleClause(g, alias string, n int) string {
	return visibleClause(alias+".classification", n) +
		` AND EXISTS (SELECT 1 FROM ` + g + `.entity_state a WHERE a.key = ` + alias + `.source_key AND ` + entityVisibleClause("a", n) + `)` +
		` AND EXISTS (SELECT 1 FROM ` + g + `.entity_state b WHERE b.key = ` + alias + `.target_key AND ` + entityVisibleClause("b", n) + `)`
}

// EntityVisible is Entity for a reader: an entity above the reader's
// clearance does not exist for them (graph.ErrNotFound), and its edge
// counts only count edges the reader may see to vertices they may see.
// Whether the entity is hidden or absent, the read is the same one query
// (the clearance filter is in its WHERE clause): nothing more is read, so
// neither the answer nor its time tells the two apart.
func (s *Store) EntityVisible(ctx context.Context, key string, vis graph.Visibility) (graph.EntityView, error) {
	var v graph.EntityView
	levels := visibleLevels(vis)
	err := s.readActive(ctx, func(tx pgx.Tx, gen graph.Generation) error {
		g := quoteIdent(gen.Graph)
		var (
			fs, ls               *time.Time
			cls                  *string
			src, vec, attrs, gid string
		)
		err := tx.QueryRow(ctx, `SELECT e.key, e.label, e.graphid::text, e.kind, e.value, e.first_seen, e.last_seen, e.sources::text,
				e.vector::text, e.attributes::text, e.classification FROM `+g+`.entity_state e WHERE e.key = $1 AND `+entityVisibleClause("e", 2),
			key, levels).
			Scan(&v.Key, &v.Label, &gid, &v.Kind, &v.Value, &fs, &ls, &src, &vec, &attrs, &cls)
		if errors.Is(err, pgx.ErrNoRows) {
			return graph.ErrNotFound
		}
		if err != nil {
			return err
		}
		if fs != nil && ls != nil && cls != nil {
			v.Observed, v.FirstSeen, v.LastSeen, v.Classification = true, fs.UTC(), ls.UTC(), *cls
		}
		if err := decodeJSONState(src, vec, attrs, &v.Sources, &v.Vector, &v.Attributes); err != nil {
			return err
		}
		// Provenance is about the entity itself; it is visible with it.
		if v.Provenance, err = provenance(ctx, tx, g, key, s.provLimit); err != nil {
			return err
		}
		if vis.All() {
			if v.OutEdges, err = edgeCounts(ctx, tx, g, "start_id", gid); err != nil {
				return err
			}
			v.InEdges, err = edgeCounts(ctx, tx, g, "end_id", gid)
			return err
		}
		if v.OutEdges, err = visibleEdgeCounts(ctx, tx, g, key, "source_key", "target_key", levels); err != nil {
			return err
		}
		v.InEdges, err = visibleEdgeCounts(ctx, tx, g, key, "target_key", "source_key", levels)
		return err
	})
	if err != nil {
		return graph.EntityView{}, fmt.Errorf("reading entity %s: %w", key, err)
	}
	return v, nil
}

// visibleEdgeCounts counts, by label, the edges whose from column is key
// that the reader may see, to vertices they may see.
func visibleEdgeCounts(ctx context.Context, tx pgx.Tx, g, key, from, to string, levels []string) (map[string]int64, error) {
	rows, err := tx.Query(ctx, `SELECT r.label, count(*) FROM `+g+`.relation_state r
		JOIN `+g+`.entity_state o ON o.key = r.`+to+`
		WHERE r.`+from+` = $1 AND `+visibleClause("r.classification", 2)+` AND `+entityVisibleClause("o", 2)+`
		GROUP BY 1`, key, levels)
	if err != nil {
		return nil, fmt.Errorf("counting visible edges: %w", err)
	}
	out := map[string]int64{}
	var l string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&l, &n}, func() error { out[l] = n; return nil }); err != nil {
		return nil, fmt.Errorf("counting visible edges: %w", err)
	}
	return out, nil
}

// Neighbours returns the vertices within q.Depth hops of key (either edge
// direction) and the edges between them, as far as vis allows: a vertex or
// edge the reader may not see is left out and never traversed, so nothing
// behind it is reached and no count reveals it. graph.ErrNotFound when the
// root does not exist for the reader.
func (s *Store) Neighbours(ctx context.Context, key string, q graph.NeighbourQuery, vis graph.Visibility) (graph.Neighbourhood, error) {
	if q.Depth < 1 || q.Depth > graph.MaxNeighbourDepth {
		return graph.Neighbourhood{}, fmt.Errorf("depth must be 1 to %d", graph.MaxNeighbourDepth)
	}
	if q.Limit < 1 || q.Limit > graph.MaxNeighbourLimit {
		return graph.Neighbourhood{}, fmt.Errorf("limit must be 1 to %d", graph.MaxNeighbourLimit)
	}
	out := graph.Neighbourhood{Root: key}
	levels := visibleLevels(vis)
	var labels []string
	if len(q.Labels) > 0 {
		labels = q.Labels
	}
	err := s.readActive(ctx, func(tx pgx.Tx, gen graph.Generation) error {
		g := quoteIdent(gen.Graph)
		roots, err := vertices(ctx, tx, g, []string{key}, levels)
		if err != nil {
			return err
		}
		if len(roots) == 0 {
			return graph.ErrNotFound
		}
		seen := map[string]bool{key: true}
		edgeSeen := map[string]bool{}
		out.Vertices = append(out.Vertices, roots[0])
		frontier := []string{key}
		for depth := 1; depth <= q.Depth && len(frontier) > 0; depth++ {
			edges, err := incident(ctx, tx, g, frontier, labels, levels)
			if err != nil {
				return err
			}
			var next []string
			nextSet := map[string]bool{}
			for _, e := range edges {
				for _, k := range []string{e.Source, e.Target} {
					if !seen[k] && !nextSet[k] {
						nextSet[k] = true
						next = append(next, k)
					}
				}
			}
			slices.Sort(next)
			found, err := vertices(ctx, tx, g, next, levels)
			if err != nil {
				return err
			}
			visible := map[string]bool{}
			for _, v := range found {
				if len(out.Vertices)-1 >= q.Limit {
					out.Truncated = true
					break
				}
				v.Depth = depth
				visible[v.Key] = true
				seen[v.Key] = true
				out.Vertices = append(out.Vertices, v)
			}
			for _, e := range edges {
				if edgeSeen[e.Key] || !seen[e.Source] || !seen[e.Target] {
					continue // an end the reader may not see (or beyond the limit)
				}
				edgeSeen[e.Key] = true
				out.Edges = append(out.Edges, e)
			}
			frontier = frontier[:0]
			for _, k := range next {
				if visible[k] {
					frontier = append(frontier, k)
				}
			}
			if out.Truncated {
				break
			}
		}
		return nil
	})
	if errors.Is(err, graph.ErrNotFound) {
		return graph.Neighbourhood{}, fmt.Errorf("neighbours of %s: %w", key, graph.ErrNotFound)
	}
	if err != nil {
		return graph.Neighbourhood{}, fmt.Errorf("neighbours of %s: %w", key, err)
	}
	slices.SortFunc(out.Edges, func(a, b graph.EdgeView) int { return compareStrings(a.Key, b.Key) })
	return out, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// vertices reads the visible vertices among keys, in key order.
func vertices(ctx context.Context, tx pgx.Tx, g string, keys, levels []string) ([]graph.VertexView, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `SELECT key, label, kind, value, first_seen, last_seen, sources::text, coalesce(classification, '')
		FROM `+g+`.entity_state e WHERE key = ANY($1::text[]) AND `+entityVisibleClause("e", 2)+` ORDER BY key`, keys, levels)
	if err != nil {
		return nil, fmt.Errorf("reading vertices: %w", err)
	}
	var out []graph.VertexView
	var v graph.VertexView
	var fs, ls *time.Time
	var src string
	_, err = pgx.ForEachRow(rows, []any{&v.Key, &v.Label, &v.Kind, &v.Value, &fs, &ls, &src, &v.Classification}, func() error {
		w := v
		if fs != nil && ls != nil {
			w.FirstSeen, w.LastSeen = fs.UTC(), ls.UTC()
		}
		if err := decodeJSONStrings(src, &w.Sources); err != nil {
			return err
		}
		out = append(out, w)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading vertices: %w", err)
	}
	return out, nil
}

// incident reads the visible edges with an end among keys.
func incident(ctx context.Context, tx pgx.Tx, g string, keys, labels, levels []string) ([]graph.EdgeView, error) {
	rows, err := tx.Query(ctx, `SELECT key, label, source_key, target_key, first_seen, last_seen, sources::text, attributes::text, classification
		FROM `+g+`.relation_state WHERE (source_key = ANY($1::text[]) OR target_key = ANY($1::text[]))
		AND ($2::text[] IS NULL OR label = ANY($2::text[])) AND `+visibleClause("classification", 3)+` ORDER BY key`, keys, labels, levels)
	if err != nil {
		return nil, fmt.Errorf("reading edges: %w", err)
	}
	var out []graph.EdgeView
	var e graph.EdgeView
	var src, attrs string
	_, err = pgx.ForEachRow(rows, []any{&e.Key, &e.Type, &e.Source, &e.Target, &e.FirstSeen, &e.LastSeen, &src, &attrs, &e.Classification}, func() error {
		w := e
		w.FirstSeen, w.LastSeen = w.FirstSeen.UTC(), w.LastSeen.UTC()
		if err := decodeJSONStrings(src, &w.Sources); err != nil {
			return err
		}
		if err := decodeJSONAttributes(attrs, &w.Attributes); err != nil {
			return err
		}
		out = append(out, w)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading edges: %w", err)
	}
	return out, nil
}

func decodeJSONStrings(src string, out *[]string) error {
	var ss []string
	if err := json.Unmarshal([]byte(src), &ss); err != nil {
		return fmt.Errorf("decoding sources: %w", err)
	}
	*out = ss
	return nil
}

func decodeJSONAttributes(src string, out *graph.Attributes) error {
	var a graph.Attributes
	if err := json.Unmarshal([]byte(src), &a); err != nil {
		return fmt.Errorf("decoding attributes: %w", err)
	}
	if len(a) > 0 {
		*out = a
	}
	return nil
}

// MaxPathDepth bounds a shortest-path search.
const MaxPathDepth = 6

// ShortestPath returns a shortest path (either edge direction) from one
// vertex to another through vertices and edges the reader may see, as the
// vertices and edges along it, or graph.ErrNotFound when either end does not
// exist for the reader or no visible path of at most maxDepth hops joins
// them. The search expands the smaller frontier first (bidirectional BFS).
func (s *Store) ShortestPath(ctx context.Context, from, to string, maxDepth int, vis graph.Visibility) ([]graph.VertexView, []graph.EdgeView, error) {
	if maxDepth < 1 || maxDepth > MaxPathDepth {
		return nil, nil, fmt.Errorf("depth must be 1 to %d", MaxPathDepth)
	}
	levels := visibleLevels(vis)
	var vs []graph.VertexView
	var es []graph.EdgeView
	err := s.readActive(ctx, func(tx pgx.Tx, gen graph.Generation) error {
		g := quoteIdent(gen.Graph)
		ends, err := vertices(ctx, tx, g, []string{from, to}, levels)
		if err != nil {
			return err
		}
		if len(ends) != 2 && !(from == to && len(ends) == 1) {
			return graph.ErrNotFound
		}
		byKey := map[string]graph.VertexView{}
		for _, v := range ends {
			byKey[v.Key] = v
		}
		if from == to {
			vs = []graph.VertexView{byKey[from]}
			return nil
		}
		// parent[side][vertex] = the edge it was reached by.
		type step struct {
			edge graph.EdgeView
			prev string
		}
		parents := [2]map[string]step{{from: {}}, {to: {}}}
		frontiers := [2][]string{{from}, {to}}
		meet := ""
		for hops := 0; hops < maxDepth && meet == ""; hops++ {
			side := 0
			if len(frontiers[1]) < len(frontiers[0]) {
				side = 1
			}
			if len(frontiers[side]) == 0 {
				side = 1 - side
				if len(frontiers[side]) == 0 {
					break
				}
			}
			edges, err := incident(ctx, tx, g, frontiers[side], nil, levels)
			if err != nil {
				return err
			}
			cand := map[string]step{}
			inFrontier := map[string]bool{}
			for _, k := range frontiers[side] {
				inFrontier[k] = true
			}
			for _, e := range edges {
				for _, pair := range [][2]string{{e.Source, e.Target}, {e.Target, e.Source}} {
					here, there := pair[0], pair[1]
					if !inFrontier[here] {
						continue
					}
					if _, seen := parents[side][there]; seen {
						continue
					}
					if _, ok := cand[there]; !ok {
						cand[there] = step{edge: e, prev: here}
					}
				}
			}
			keys := make([]string, 0, len(cand))
			for k := range cand {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			found, err := vertices(ctx, tx, g, keys, levels) // only visible vertices are stepped on
			if err != nil {
				return err
			}
			frontiers[side] = frontiers[side][:0]
			for _, v := range found {
				parents[side][v.Key] = cand[v.Key]
				byKey[v.Key] = v
				frontiers[side] = append(frontiers[side], v.Key)
				if _, ok := parents[1-side][v.Key]; ok && meet == "" {
					meet = v.Key
				}
			}
		}
		if meet == "" {
			return graph.ErrNotFound
		}
		// Walk back to from, then forward to to.
		var left []string
		for k := meet; k != from; k = parents[0][k].prev {
			left = append(left, k)
			es = append(es, parents[0][k].edge)
		}
		left = append(left, from)
		slices.Reverse(left)
		slices.Reverse(es)
		for k := meet; k != to; {
			st := parents[1][k]
			es = append(es, st.edge)
			k = st.prev
			left = append(left, k)
		}
		for _, k := range left {
			vs = append(vs, byKey[k])
		}
		return nil
	})
	if errors.Is(err, graph.ErrNotFound) {
		return nil, nil, fmt.Errorf("path from %s to %s: %w", from, to, graph.ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("path from %s to %s: %w", from, to, err)
	}
	for i := range vs {
		vs[i].Depth = i
	}
	return vs, es, nil
}
