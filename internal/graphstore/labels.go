package graphstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/heimdallhub/heimdall/projections/graph"
)

// labelInfo is what writes need about one AGE label.
type labelInfo struct {
	id   int32  // label id, the high bits of its graphids
	kind string // "v" or "e"
	seq  string // qualified, quoted name of the label's id sequence
}

type labelCache struct {
	mu sync.Mutex
	m  map[string]labelInfo
}

func (s *Store) cacheFor(genID int64) *labelCache {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.labels[genID]
	if !ok {
		c = &labelCache{m: map[string]labelInfo{}}
		s.labels[genID] = c
	}
	return c
}

// label returns a cached label.
func (s *Store) label(genID int64, name string) (labelInfo, bool) {
	c := s.cacheFor(genID)
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.m[name]
	return l, ok
}

// EnsureLabels creates the missing vertex and edge labels of gen's graph,
// each with a unique index on its key property (and, for fast traversals,
// an index on vertex ids and on edge endpoints). Creation runs in its own
// transaction under an advisory lock per generation, so concurrent
// projectors never race; a label, once created, stays until its graph is
// dropped.
func (s *Store) EnsureLabels(ctx context.Context, gen graph.Generation, vertexLabels, edgeLabels []string) error {
	c := s.cacheFor(gen.ID)
	c.mu.Lock()
	defer c.mu.Unlock()
	missing := func() (vs, es []string) {
		for _, l := range vertexLabels {
			if _, ok := c.m[l]; !ok {
				vs = append(vs, l)
			}
		}
		for _, l := range edgeLabels {
			if _, ok := c.m[l]; !ok {
				es = append(es, l)
			}
		}
		return vs, es
	}
	vs, es := missing()
	if len(vs) == 0 && len(es) == 0 {
		return nil
	}
	if err := s.loadLabels(ctx, s.pool, gen, c); err != nil {
		return err
	}
	vs, es = missing()
	if len(vs) == 0 && len(es) == 0 {
		return c.check(vertexLabels, edgeLabels)
	}
	for _, l := range es {
		if !graph.ValidEdgeLabel(l) {
			return fmt.Errorf("creating edge label: %q is not a valid edge label", l)
		}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var state string
		err := tx.QueryRow(ctx, "SELECT state FROM heimdall.generations WHERE id = $1 FOR SHARE", gen.ID).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && graph.GenerationState(state) == graph.GenerationRetired) {
			return graph.ErrGenerationChanged
		}
		if err != nil {
			return fmt.Errorf("checking generation %d: %w", gen.ID, err)
		}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", lockClassLabels, int32(gen.ID)); err != nil {
			return fmt.Errorf("locking labels: %w", err)
		}
		if err := s.loadLabels(ctx, tx, gen, c); err != nil {
			return err
		}
		vs, es := missing()
		for _, l := range vs {
			if err := createLabel(ctx, tx, gen.Graph, l, "v"); err != nil {
				return err
			}
		}
		for _, l := range es {
			if err := createLabel(ctx, tx, gen.Graph, l, "e"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("creating labels in graph %s: %w", gen.Graph, err)
	}
	if err := s.loadLabels(ctx, s.pool, gen, c); err != nil {
		return err
	}
	return c.check(vertexLabels, edgeLabels)
}

// check verifies every label exists with the right kind (a name is shared by
// the vertex and edge labels of a graph).
func (c *labelCache) check(vertexLabels, edgeLabels []string) error {
	for _, l := range vertexLabels {
		if info, ok := c.m[l]; !ok || info.kind != "v" {
			return fmt.Errorf("label %s is missing or not a vertex label", l)
		}
	}
	for _, l := range edgeLabels {
		if info, ok := c.m[l]; !ok || info.kind != "e" {
			return fmt.Errorf("label %s is missing or not an edge label", l)
		}
	}
	return nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// loadLabels reads the labels of gen's graph into c (whose lock is held).
func (s *Store) loadLabels(ctx context.Context, q querier, gen graph.Generation, c *labelCache) error {
	rows, err := q.Query(ctx, `
		SELECT l.name::text, l.id::integer, l.kind::text, l.seq_name::text
		FROM ag_catalog.ag_label l JOIN ag_catalog.ag_graph g ON g.graphid = l.graph
		WHERE g.name = $1::name`, gen.Graph)
	if err != nil {
		return fmt.Errorf("reading labels of graph %s: %w", gen.Graph, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, kind, seq string
		var id int32
		if err := rows.Scan(&name, &id, &kind, &seq); err != nil {
			return fmt.Errorf("reading labels of graph %s: %w", gen.Graph, err)
		}
		c.m[name] = labelInfo{id: id, kind: kind, seq: quoteIdent(gen.Graph) + "." + quoteIdent(seq)}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading labels of graph %s: %w", gen.Graph, err)
	}
	return nil
}

// createLabel creates one label with its indexes. Index names use the label
// id, as label names may be too long to take a suffix.
func createLabel(ctx context.Context, tx pgx.Tx, graphName, name, kind string) error {
	fn := "create_vlabel"
	if kind == "e" {
		fn = "create_elabel"
	}
	if _, err := tx.Exec(ctx, "SELECT ag_catalog."+fn+"($1::name, $2::name)", graphName, name); err != nil {
		return fmt.Errorf("creating label %s: %w", name, err)
	}
	var id int32
	if err := tx.QueryRow(ctx, `SELECT l.id::integer FROM ag_catalog.ag_label l JOIN ag_catalog.ag_graph g ON g.graphid = l.graph
		WHERE g.name = $1::name AND l.name = $2::name`, graphName, name).Scan(&id); err != nil {
		return fmt.Errorf("reading the id of label %s: %w", name, err)
	}
	table := quoteIdent(graphName) + "." + quoteIdent(name)
	stmts := []string{
		fmt.Sprintf("CREATE UNIQUE INDEX %s ON %s (%s)", quoteIdent(fmt.Sprintf("label_%d_key", id)), table, keyExpr),
	}
	if kind == "v" {
		stmts = append(stmts, fmt.Sprintf("CREATE UNIQUE INDEX %s ON %s (id)", quoteIdent(fmt.Sprintf("label_%d_id", id)), table))
	} else {
		stmts = append(stmts,
			fmt.Sprintf("CREATE INDEX %s ON %s (start_id)", quoteIdent(fmt.Sprintf("label_%d_start", id)), table),
			fmt.Sprintf("CREATE INDEX %s ON %s (end_id)", quoteIdent(fmt.Sprintf("label_%d_end", id)), table))
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("indexing label %s: %w", name, err)
		}
	}
	return nil
}

// keyExpr is the indexed expression of the key property; ON CONFLICT
// clauses name the same expression.
const keyExpr = `(ag_catalog.agtype_access_operator(properties, '"key"'::ag_catalog.agtype))`
