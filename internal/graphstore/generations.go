package graphstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heimdallhub/heimdall/projections/graph"
)

// ErrNoActiveGeneration is returned when no generation is active (the store
// creates one when it opens, so this means someone removed it).
var ErrNoActiveGeneration = errors.New("no active graph generation")

const generationColumns = "id, graph_name, state, created_at, activated_at"

func scanGeneration(row pgx.Row) (graph.Generation, error) {
	var (
		g         graph.Generation
		state     string
		activated *time.Time
	)
	if err := row.Scan(&g.ID, &g.Graph, &state, &g.CreatedAt, &activated); err != nil {
		return graph.Generation{}, err
	}
	g.State = graph.GenerationState(state)
	if activated != nil {
		g.ActivatedAt = *activated
	}
	return g, nil
}

// ActiveGeneration returns the generation readers use.
func (s *Store) ActiveGeneration(ctx context.Context) (graph.Generation, error) {
	g, err := scanGeneration(s.pool.QueryRow(ctx,
		"SELECT "+generationColumns+" FROM heimdall.generations WHERE state = 'active'"))
	if errors.Is(err, pgx.ErrNoRows) {
		return graph.Generation{}, ErrNoActiveGeneration
	}
	if err != nil {
		return graph.Generation{}, fmt.Errorf("reading the active graph generation: %w", err)
	}
	return g, nil
}

// ActiveGraph returns the AGE graph name of the active generation.
func (s *Store) ActiveGraph(ctx context.Context) (string, error) {
	g, err := s.ActiveGeneration(ctx)
	if err != nil {
		return "", err
	}
	return g.Graph, nil
}

// Generations lists every generation, oldest first.
func (s *Store) Generations(ctx context.Context) ([]graph.Generation, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+generationColumns+" FROM heimdall.generations ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("listing graph generations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (graph.Generation, error) { return scanGeneration(r) })
	if err != nil {
		return nil, fmt.Errorf("listing graph generations: %w", err)
	}
	return out, nil
}

// Generation returns one generation by id.
func (s *Store) Generation(ctx context.Context, id int64) (graph.Generation, error) {
	g, err := scanGeneration(s.pool.QueryRow(ctx, "SELECT "+generationColumns+" FROM heimdall.generations WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return graph.Generation{}, fmt.Errorf("reading graph generation %d: %w", id, graph.ErrNotFound)
	}
	if err != nil {
		return graph.Generation{}, fmt.Errorf("reading graph generation %d: %w", id, err)
	}
	return g, nil
}

func lockGenerations(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, 0)", lockClassGenerations); err != nil {
		return fmt.Errorf("locking graph generations: %w", err)
	}
	return nil
}

// bootstrap makes sure a generation is active, creating the first one.
func (s *Store) bootstrap(ctx context.Context) (graph.Generation, error) {
	var gen graph.Generation
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockGenerations(ctx, tx); err != nil {
			return err
		}
		g, err := scanGeneration(tx.QueryRow(ctx, "SELECT "+generationColumns+" FROM heimdall.generations WHERE state = 'active'"))
		if err == nil {
			gen = g
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		gen, err = s.createGeneration(ctx, tx, graph.GenerationActive)
		return err
	})
	if err != nil {
		return graph.Generation{}, fmt.Errorf("making sure a graph generation is active: %w", err)
	}
	return gen, nil
}

// createGeneration creates a generation with its AGE graph and tables.
func (s *Store) createGeneration(ctx context.Context, tx pgx.Tx, state graph.GenerationState) (graph.Generation, error) {
	var id int64
	if err := tx.QueryRow(ctx, "SELECT nextval(pg_get_serial_sequence('heimdall.generations', 'id'))").Scan(&id); err != nil {
		return graph.Generation{}, fmt.Errorf("allocating a generation id: %w", err)
	}
	name := fmt.Sprintf("heimdall_%d", id)
	g, err := scanGeneration(tx.QueryRow(ctx, `
		INSERT INTO heimdall.generations (id, graph_name, state, layout, created_layout, age_version, activated_at)
		VALUES ($1, $2, $3, $4, $4, $5, CASE WHEN $3 = 'active' THEN now() END)
		RETURNING `+generationColumns, id, name, string(state), layoutVersion, s.ageVersion))
	if err != nil {
		return graph.Generation{}, fmt.Errorf("recording generation %d: %w", id, err)
	}
	if _, err := tx.Exec(ctx, "SELECT ag_catalog.create_graph($1::name)", name); err != nil {
		return graph.Generation{}, fmt.Errorf("creating graph %s: %w", name, err)
	}
	if _, err := tx.Exec(ctx, strings.ReplaceAll(layoutSQL, "@graph@", quoteIdent(name))); err != nil {
		return graph.Generation{}, fmt.Errorf("creating the tables of graph %s: %w", name, err)
	}
	s.log.Info("graph generation created", "generation", id, "graph", name, "state", string(state))
	return g, nil
}

// carryAudited marks the conflicts of graph to that graph from had already
// audited, so that the auditor does not append their audit events again
// after a rebuild (harmless, but noise: their ids are the same).
func carryAudited(ctx context.Context, tx pgx.Tx, from, to string) error {
	var ok bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL`,
		quoteIdent(from)+".reclassification_conflicts", quoteIdent(to)+".reclassification_conflicts").Scan(&ok); err != nil || !ok {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE `+quoteIdent(to)+`.reclassification_conflicts AS n SET audited_at = o.audited_at
		FROM `+quoteIdent(from)+`.reclassification_conflicts AS o
		WHERE n.record_key = o.record_key AND n.winner_event = o.winner_event AND n.loser_event = o.loser_event
			AND n.audited_at IS NULL AND o.audited_at IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("carrying audited conflicts from %s to %s: %w", from, to, err)
	}
	return nil
}

// BeginRebuild creates a new generation in state building, with an empty
// graph, for a rebuild projector (graph.WithGeneration) to fill from offset 0.
func (s *Store) BeginRebuild(ctx context.Context) (graph.Generation, error) {
	var gen graph.Generation
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockGenerations(ctx, tx); err != nil {
			return err
		}
		var err error
		gen, err = s.createGeneration(ctx, tx, graph.GenerationBuilding)
		return err
	})
	if err != nil {
		return graph.Generation{}, fmt.Errorf("beginning a graph rebuild: %w", err)
	}
	return gen, nil
}

// Activate makes gen (a building generation) the active one and retires the
// previously active generation, atomically: readers and the live projector
// see one or the other, never both or neither. The live projector's next
// transaction fails with graph.ErrGenerationChanged. Generations retired
// before the previous one are then dropped; the previous one stays for
// readers still using it. Activating the active generation does nothing.
func (s *Store) Activate(ctx context.Context, gen graph.Generation) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockGenerations(ctx, tx); err != nil {
			return err
		}
		var state string
		err := tx.QueryRow(ctx, "SELECT state FROM heimdall.generations WHERE id = $1 FOR UPDATE", gen.ID).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return graph.ErrNotFound
		}
		if err != nil {
			return err
		}
		switch graph.GenerationState(state) {
		case graph.GenerationActive:
			return nil
		case graph.GenerationRetired:
			return fmt.Errorf("generation %d is retired", gen.ID)
		}
		// Updating the active row waits for live projector transactions
		// holding it FOR SHARE; later ones then see it retired.
		rows, err := tx.Query(ctx, "UPDATE heimdall.generations SET state = 'retired', retired_at = now() WHERE state = 'active' RETURNING graph_name")
		if err != nil {
			return err
		}
		previous, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, "UPDATE heimdall.generations SET state = 'active', activated_at = now() WHERE id = $1", gen.ID); err != nil {
			return err
		}
		for _, old := range previous {
			if err := carryAudited(ctx, tx, old, gen.Graph); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("activating graph generation %d: %w", gen.ID, err)
	}
	s.log.Info("graph generation activated", "generation", gen.ID, "graph", gen.Graph)
	if err := s.dropRetired(ctx); err != nil {
		// The activation stands; the next one retries the cleanup.
		s.log.Warn("dropping retired graph generations", "err", err)
	}
	return nil
}

// dropRetired drops every retired generation but the most recently retired.
func (s *Store) dropRetired(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, `SELECT id FROM heimdall.generations WHERE state = 'retired'
		ORDER BY retired_at DESC NULLS LAST, id DESC OFFSET 1`)
	if err != nil {
		return fmt.Errorf("listing retired graph generations: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("listing retired graph generations: %w", err)
	}
	var errs []error
	for _, id := range ids {
		if err := s.DropGeneration(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// DropGeneration drops a building or retired generation: its graph, its
// tables and its record. The active generation cannot be dropped.
func (s *Store) DropGeneration(ctx context.Context, id int64) error {
	var name string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockGenerations(ctx, tx); err != nil {
			return err
		}
		var state string
		err := tx.QueryRow(ctx, "SELECT graph_name, state FROM heimdall.generations WHERE id = $1 FOR UPDATE", id).Scan(&name, &state)
		if errors.Is(err, pgx.ErrNoRows) {
			return graph.ErrNotFound
		}
		if err != nil {
			return err
		}
		if graph.GenerationState(state) == graph.GenerationActive {
			return errors.New("the generation is active")
		}
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM ag_catalog.ag_graph WHERE name = $1::name)", name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			if _, err := tx.Exec(ctx, "SELECT ag_catalog.drop_graph($1::name, true)", name); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, "DELETE FROM heimdall.generations WHERE id = $1", id)
		return err
	})
	if err != nil {
		return fmt.Errorf("dropping graph generation %d: %w", id, err)
	}
	s.mu.Lock()
	delete(s.labels, id)
	s.mu.Unlock()
	s.log.Info("graph generation dropped", "generation", id, "graph", name)
	return nil
}

// BuildingGenerations lists the generations in state building, newest
// first: rebuilds in progress, or interrupted ones that may be resumed.
func (s *Store) BuildingGenerations(ctx context.Context) ([]graph.Generation, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+generationColumns+" FROM heimdall.generations WHERE state = 'building' ORDER BY id DESC")
	if err != nil {
		return nil, fmt.Errorf("listing building graph generations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (graph.Generation, error) { return scanGeneration(r) })
	if err != nil {
		return nil, fmt.Errorf("listing building graph generations: %w", err)
	}
	return out, nil
}

// ResumeRebuild returns the generation a graph rebuild writes to. Without
// fresh, that is the newest generation in state building, if there is one
// (resumed is true): its stored offsets were committed with its contents,
// so a rebuild projector continues exactly where the interrupted rebuild
// stopped. Otherwise, and with fresh, it is a new generation from
// BeginRebuild. Every other building generation is dropped (fresh drops
// them all first); dropped lists them. The caller must hold the graph
// rebuild lock (LockRebuild), so that no other rebuild writes to them.
func (s *Store) ResumeRebuild(ctx context.Context, fresh bool) (gen graph.Generation, resumed bool, dropped []int64, err error) {
	building, err := s.BuildingGenerations(ctx)
	if err != nil {
		return graph.Generation{}, false, nil, err
	}
	if !fresh && len(building) > 0 {
		gen, resumed = building[0], true
		building = building[1:]
	}
	for _, g := range building {
		if err := s.DropGeneration(ctx, g.ID); err != nil {
			return graph.Generation{}, false, dropped, err
		}
		dropped = append(dropped, g.ID)
	}
	if resumed {
		s.log.Info("graph rebuild resumed", "generation", gen.ID, "graph", gen.Graph)
		return gen, true, dropped, nil
	}
	gen, err = s.BeginRebuild(ctx)
	return gen, false, dropped, err
}

// StoredOffsets returns every stored next offset of topic in gen, by
// partition.
func (s *Store) StoredOffsets(ctx context.Context, gen graph.Generation, topic string) (map[int32]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT partition, next_offset FROM `+quoteIdent(gen.Graph)+`.offsets WHERE topic = $1`, topic)
	if err != nil {
		return nil, fmt.Errorf("reading offsets of %s in %s: %w", topic, gen.Graph, err)
	}
	out := map[int32]int64{}
	var p int32
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&p, &n}, func() error { out[p] = n; return nil }); err != nil {
		return nil, fmt.Errorf("reading offsets of %s in %s: %w", topic, gen.Graph, err)
	}
	return out, nil
}
