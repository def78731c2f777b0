package graphstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heimdallhub/heimdall/projections/graph"
)

// A vector rebuild recomputes the look-alike vectors (the similarity table)
// of the active generation from its entity_state, while readers keep using
// the current table:
//
//  1. BeginVectorRebuild creates <graph>.similarity_next and a progress row
//     in <graph>.similarity_rebuild, or finds them from an interrupted
//     rebuild with the same embedding model and resumes;
//  2. RebuildVectors scans the domain and URL vertices in key order, in
//     batches; each batch's vectors and the last key scanned are committed
//     together, so a rebuild that dies resumes after the last committed
//     key; then it builds the HNSW index;
//  3. SwapVectors adds the vectors of vertices created meanwhile (and drops
//     those of vertices retracted meanwhile), then in one short transaction
//     drops the old table and renames the new one in its place; a vertex the
//     live projector created in the instant before the swap is given its
//     vector by a second catch-up right after it (the progress row says
//     this is pending until it is done, so a rerun finishes it).
const (
	vectorPhaseScanning = "scanning"
	vectorPhaseSwapped  = "swapped"
)

// VectorRebuild is a rebuild of the look-alike vectors of one generation.
type VectorRebuild struct {
	Generation graph.Generation
	Model      string // the embedding scheme of the new vectors
	Resumed    bool   // continues an interrupted rebuild
	Swapped    bool   // the new table is in place; only the catch-up is left
	AfterKey   string // the last vertex key scanned ("" before the first)
	StartedAt  time.Time
	Done       int64 // domain and URL vertices scanned
	Total      int64 // domain and URL vertices to scan (counted when it began or resumed)
}

// VectorSwap says what SwapVectors did.
type VectorSwap struct {
	Added, Removed         int64 // vectors of vertices created or retracted during the scan
	LateAdded, LateRemoved int64 // the same, found right after the swap
	Vectors                int64 // vectors in the table now
}

type vectorTables struct {
	graph, live, next, progress string
}

func tablesOf(gen graph.Generation) vectorTables {
	g := quoteIdent(gen.Graph)
	return vectorTables{graph: g, live: g + ".similarity", next: g + ".similarity_next", progress: g + ".similarity_rebuild"}
}

// vectorKinds are the kinds of vertices that may have a look-alike vector
// (see embeddable).
var vectorKinds = []string{"domain-name", "url"}

// BeginVectorRebuild starts a vector rebuild of the active generation, or
// resumes the interrupted one (same generation and embedding model) unless
// fresh, which drops it and starts anew. The caller must hold the vectors
// rebuild lock (LockRebuild).
func (s *Store) BeginVectorRebuild(ctx context.Context, fresh bool) (*VectorRebuild, error) {
	gen, err := s.ActiveGeneration(ctx)
	if err != nil {
		return nil, err
	}
	t := tablesOf(gen)
	vr := &VectorRebuild{Generation: gen, Model: s.embedder.Version()}
	prev, found, err := s.vectorProgress(ctx, gen)
	if err != nil {
		return nil, err
	}
	switch {
	case found && prev.Swapped && !fresh:
		prev.Generation, prev.Resumed = gen, true
		return prev, nil
	case found && !fresh && !prev.Swapped && prev.Model == vr.Model:
		vr = prev
		vr.Generation, vr.Resumed = gen, true
		var exists bool
		if err := s.pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", t.next).Scan(&exists); err != nil {
			return nil, fmt.Errorf("resuming the vector rebuild of %s: %w", gen.Graph, err)
		}
		if !exists {
			return nil, fmt.Errorf("resuming the vector rebuild of %s: %s is missing (use a fresh rebuild)", gen.Graph, t.next)
		}
	default:
		if found {
			s.log.Info("vector rebuild dropped", "graph", gen.Graph, "model", prev.Model, "fresh", fresh)
		}
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			for _, stmt := range []string{
				`DROP TABLE IF EXISTS ` + t.next,
				`DROP TABLE IF EXISTS ` + t.progress,
				fmt.Sprintf(`CREATE TABLE %s (key text COLLATE "C" PRIMARY KEY, model text NOT NULL, embedding vector(%d) NOT NULL)`, t.next, similarityDim),
				`CREATE TABLE ` + t.progress + ` (model text NOT NULL, after_key text COLLATE "C" NOT NULL, scanned bigint NOT NULL,
					phase text NOT NULL, started_at timestamptz NOT NULL)`,
			} {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return err
				}
			}
			return tx.QueryRow(ctx, `INSERT INTO `+t.progress+` (model, after_key, scanned, phase, started_at)
				VALUES ($1, '', 0, $2, now()) RETURNING started_at`, vr.Model, vectorPhaseScanning).Scan(&vr.StartedAt)
		})
		if err != nil {
			return nil, fmt.Errorf("beginning the vector rebuild of %s: %w", gen.Graph, err)
		}
	}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+t.graph+`.entity_state WHERE kind = ANY($1)`, vectorKinds).Scan(&vr.Total); err != nil {
		return nil, fmt.Errorf("counting the vertices of %s: %w", gen.Graph, err)
	}
	vr.Total = max(vr.Total, vr.Done)
	return vr, nil
}

// vectorProgress reads the progress row of gen's vector rebuild; found is
// false if none is in progress.
func (s *Store) vectorProgress(ctx context.Context, gen graph.Generation) (*VectorRebuild, bool, error) {
	t := tablesOf(gen)
	var exists bool
	if err := s.pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", t.progress).Scan(&exists); err != nil {
		return nil, false, fmt.Errorf("reading the vector rebuild of %s: %w", gen.Graph, err)
	}
	if !exists {
		return nil, false, nil
	}
	vr := &VectorRebuild{Generation: gen}
	var phase string
	err := s.pool.QueryRow(ctx, `SELECT model, after_key, scanned, phase, started_at FROM `+t.progress).
		Scan(&vr.Model, &vr.AfterKey, &vr.Done, &phase, &vr.StartedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading the vector rebuild of %s: %w", gen.Graph, err)
	}
	vr.Swapped = phase == vectorPhaseSwapped
	return vr, true, nil
}

// VectorRebuildStatus returns the vector rebuild of the active generation
// in progress (or interrupted), with its total counted now; nil if none.
func (s *Store) VectorRebuildStatus(ctx context.Context) (*VectorRebuild, error) {
	gen, err := s.ActiveGeneration(ctx)
	if err != nil {
		return nil, err
	}
	vr, found, err := s.vectorProgress(ctx, gen)
	if err != nil || !found {
		return nil, err
	}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+tablesOf(gen).graph+`.entity_state WHERE kind = ANY($1)`, vectorKinds).Scan(&vr.Total); err != nil {
		return nil, fmt.Errorf("counting the vertices of %s: %w", gen.Graph, err)
	}
	vr.Total = max(vr.Total, vr.Done)
	return vr, nil
}

// RebuildVectors computes the vectors of every domain and URL vertex after
// vr.AfterKey into the new table, batch vertices per transaction together
// with the progress row, calling progress after each batch; then it builds
// the new table's HNSW index.
func (s *Store) RebuildVectors(ctx context.Context, vr *VectorRebuild, batch int, progress func(done, total int64)) error {
	if vr.Swapped {
		return nil
	}
	if batch <= 0 {
		batch = 1000
	}
	t := tablesOf(vr.Generation)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows, err := s.pool.Query(ctx, `SELECT key, kind, value FROM `+t.graph+`.entity_state
			WHERE kind = ANY($1) AND key > $2 ORDER BY key LIMIT $3`, vectorKinds, vr.AfterKey, batch)
		if err != nil {
			return fmt.Errorf("scanning the vertices of %s after %q: %w", vr.Generation.Graph, vr.AfterKey, err)
		}
		var ents []graph.EntityState
		var e graph.EntityState
		if _, err := pgx.ForEachRow(rows, []any{&e.Key, &e.Kind, &e.Value}, func() error { ents = append(ents, e); return nil }); err != nil {
			return fmt.Errorf("scanning the vertices of %s after %q: %w", vr.Generation.Graph, vr.AfterKey, err)
		}
		if len(ents) == 0 {
			break
		}
		keys, vecs := s.embedAll(ents)
		last := ents[len(ents)-1].Key
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if len(keys) > 0 {
				if _, err := tx.Exec(ctx, `INSERT INTO `+t.next+` (key, model, embedding)
					SELECT u.key, $3, u.emb::vector FROM unnest($1::text[], $2::text[]) AS u(key, emb)
					ON CONFLICT (key) DO UPDATE SET model = EXCLUDED.model, embedding = EXCLUDED.embedding`, keys, vecs, vr.Model); err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, `UPDATE `+t.progress+` SET after_key = $1, scanned = scanned + $2`, last, len(ents))
			return err
		})
		if err != nil {
			return fmt.Errorf("storing the vectors of %s up to %q: %w", vr.Generation.Graph, last, err)
		}
		vr.AfterKey = last
		vr.Done += int64(len(ents))
		vr.Total = max(vr.Total, vr.Done)
		if progress != nil {
			progress(vr.Done, vr.Total)
		}
	}
	if _, err := s.pool.Exec(ctx, `CREATE INDEX IF NOT EXISTS similarity_next_hnsw ON `+t.next+` USING hnsw (embedding vector_cosine_ops)`); err != nil {
		return fmt.Errorf("indexing the new vectors of %s: %w", vr.Generation.Graph, err)
	}
	return nil
}

// embedAll returns the keys and vectors (in pgvector's text form) of the
// embeddable states among ents.
func (s *Store) embedAll(ents []graph.EntityState) (keys, vecs []string) {
	for _, d := range ents {
		if !embeddable(d.Kind, d.Value) {
			continue
		}
		v, err := s.embedder.Embed(d.Kind, d.Value)
		if err != nil {
			continue // as queueEmbeddings: no vector, no error
		}
		keys, vecs = append(keys, d.Key), append(vecs, vectorText(v))
	}
	return keys, vecs
}

// SwapVectors puts the rebuilt vectors in place of gen's similarity table
// (see the steps above). It fails with graph.ErrGenerationChanged if the
// generation is no longer active (a graph rebuild was activated meanwhile:
// the new generation has its own vectors). It retries the swap while the
// table stays locked by long readers.
func (s *Store) SwapVectors(ctx context.Context, vr *VectorRebuild) (VectorSwap, error) {
	var out VectorSwap
	t := tablesOf(vr.Generation)
	if !vr.Swapped {
		var err error
		if out.Added, out.Removed, err = s.catchUpVectors(ctx, vr.Generation, t.next, vr.Model, true); err != nil {
			return out, err
		}
		for attempt := 1; ; attempt++ {
			err = s.swapVectorTables(ctx, vr)
			var pe *pgconn.PgError
			if err == nil || attempt == 5 || !errors.As(err, &pe) || pe.Code != "55P03" { // lock_not_available
				break
			}
			s.log.Warn("vector swap waited too long for readers; retrying", "graph", vr.Generation.Graph, "attempt", attempt)
		}
		if err != nil {
			return out, fmt.Errorf("swapping the vectors of %s: %w", vr.Generation.Graph, err)
		}
		vr.Swapped = true
		s.log.Info("vectors swapped", "generation", vr.Generation.ID, "graph", vr.Generation.Graph, "model", vr.Model)
	}
	var err error
	if out.LateAdded, out.LateRemoved, err = s.catchUpVectors(ctx, vr.Generation, t.live, vr.Model, false); err != nil {
		return out, err
	}
	if _, err := s.pool.Exec(ctx, `DROP TABLE IF EXISTS `+t.progress); err != nil {
		return out, fmt.Errorf("ending the vector rebuild of %s: %w", vr.Generation.Graph, err)
	}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+t.live).Scan(&out.Vectors); err != nil {
		return out, fmt.Errorf("counting the vectors of %s: %w", vr.Generation.Graph, err)
	}
	return out, nil
}

// swapVectorTables replaces the similarity table by the new one in one
// transaction. Readers and the live projector wait for it (briefly: it only
// renames); statements waiting on the old table then resolve the new one.
func (s *Store) swapVectorTables(ctx context.Context, vr *VectorRebuild) error {
	t := tablesOf(vr.Generation)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Holding the generation row FOR SHARE keeps it active until the
		// commit (Activate updates it).
		var state string
		err := tx.QueryRow(ctx, "SELECT state FROM heimdall.generations WHERE id = $1 FOR SHARE", vr.Generation.ID).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("generation %d is gone: %w", vr.Generation.ID, graph.ErrGenerationChanged)
		}
		if err != nil {
			return err
		}
		if graph.GenerationState(state) != graph.GenerationActive {
			return fmt.Errorf("generation %d is %s: %w", vr.Generation.ID, state, graph.ErrGenerationChanged)
		}
		for _, stmt := range []string{
			`SET LOCAL lock_timeout = '5s'`,
			`LOCK TABLE ` + t.live + ` IN ACCESS EXCLUSIVE MODE`,
			`DROP TABLE ` + t.live,
			`ALTER TABLE ` + t.next + ` RENAME TO similarity`,
			`ALTER TABLE ` + t.live + ` RENAME CONSTRAINT similarity_next_pkey TO similarity_pkey`,
			`ALTER INDEX ` + t.graph + `.similarity_next_hnsw RENAME TO similarity_hnsw`,
			`UPDATE ` + t.progress + ` SET phase = '` + vectorPhaseSwapped + `'`,
		} {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
}

// catchUpVectors makes table hold a vector for every embeddable domain and
// URL vertex of gen and none for vertices that are gone: it adds the
// missing ones (replacing nothing unless replace: the live projector's own
// vectors are as good) and deletes the others.
func (s *Store) catchUpVectors(ctx context.Context, gen graph.Generation, table, model string, replace bool) (added, removed int64, err error) {
	g := quoteIdent(gen.Graph)
	rows, err := s.pool.Query(ctx, `SELECT e.key, e.kind, e.value FROM `+g+`.entity_state e
		WHERE e.kind = ANY($1) AND NOT EXISTS (SELECT 1 FROM `+table+` v WHERE v.key = e.key)
		ORDER BY e.key`, vectorKinds)
	if err != nil {
		return 0, 0, fmt.Errorf("finding vertices of %s without vectors: %w", gen.Graph, err)
	}
	var ents []graph.EntityState
	var e graph.EntityState
	if _, err := pgx.ForEachRow(rows, []any{&e.Key, &e.Kind, &e.Value}, func() error { ents = append(ents, e); return nil }); err != nil {
		return 0, 0, fmt.Errorf("finding vertices of %s without vectors: %w", gen.Graph, err)
	}
	conflict := `DO NOTHING`
	if replace {
		conflict = `(key) DO UPDATE SET model = EXCLUDED.model, embedding = EXCLUDED.embedding`
	}
	const chunk = 1000
	for start := 0; start < len(ents); start += chunk {
		keys, vecs := s.embedAll(ents[start:min(start+chunk, len(ents))])
		if len(keys) == 0 {
			continue
		}
		tag, err := s.pool.Exec(ctx, `INSERT INTO `+table+` (key, model, embedding)
			SELECT u.key, $3, u.emb::vector FROM unnest($1::text[], $2::text[]) AS u(key, emb)
			ON CONFLICT `+conflict, keys, vecs, model)
		if err != nil {
			return added, 0, fmt.Errorf("adding vectors to %s: %w", gen.Graph, err)
		}
		added += tag.RowsAffected()
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM `+table+` v WHERE NOT EXISTS (SELECT 1 FROM `+g+`.entity_state e WHERE e.key = v.key)`)
	if err != nil {
		return added, 0, fmt.Errorf("removing vectors of vertices gone from %s: %w", gen.Graph, err)
	}
	return added, tag.RowsAffected(), nil
}
