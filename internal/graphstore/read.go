package graphstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heimdallhub/heimdall/projections/graph"
)

// Offsets returns the stored next offset of each given partition of topic in
// gen. Partitions without one are absent: consume them from the start.
func (s *Store) Offsets(ctx context.Context, gen graph.Generation, topic string, partitions []int32) (map[int32]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT partition, next_offset FROM `+quoteIdent(gen.Graph)+`.offsets
		WHERE topic = $1 AND partition = ANY($2::integer[])`, topic, partitions)
	if err != nil {
		return nil, fmt.Errorf("reading offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	var p int32
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&p, &n}, func() error { out[p] = n; return nil }); err != nil {
		return nil, fmt.Errorf("reading offsets of %s: %w", topic, err)
	}
	return out, nil
}

// readActive runs fn in a read-only repeatable-read transaction on the
// active generation, so it sees one consistent graph.
func (s *Store) readActive(ctx context.Context, fn func(tx pgx.Tx, gen graph.Generation) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		gen, err := scanGeneration(tx.QueryRow(ctx, "SELECT "+generationColumns+" FROM heimdall.generations WHERE state = 'active'"))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoActiveGeneration
		}
		if err != nil {
			return fmt.Errorf("reading the active graph generation: %w", err)
		}
		return fn(tx, gen)
	})
}

// Entity returns the state of the vertex with key in the active graph, its
// newest provenance entries and its edge counts, or graph.ErrNotFound: the
// entity as Heimdall itself sees it (EntityVisible with graph.SeeAll).
func (s *Store) Entity(ctx context.Context, key string) (graph.EntityView, error) {
	return s.EntityVisible(ctx, key, graph.SeeAll())
}

func provenance(ctx context.Context, tx pgx.Tx, g, key string, limit int) ([]graph.ProvenanceRecord, error) {
	rows, err := tx.Query(ctx, `SELECT record_key, event_id::text, event_type, source, format, file, line, byte_offset,
			batch_id, actor_sub, actor_iss, request_id, origin_peer, recorded_at, observed_at
		FROM `+g+`.provenance WHERE record_key = $1 ORDER BY event_id DESC LIMIT $2`, key, limit)
	if err != nil {
		return nil, fmt.Errorf("reading provenance: %w", err)
	}
	var out []graph.ProvenanceRecord
	var p graph.ProvenanceRecord
	var id string
	_, err = pgx.ForEachRow(rows, []any{&p.RecordKey, &id, &p.EventType, &p.Provenance.Source, &p.Provenance.Format,
		&p.Provenance.File, &p.Provenance.Line, &p.Provenance.ByteOffset, &p.BatchID, &p.Actor.Subject, &p.Actor.Issuer,
		&p.RequestID, &p.OriginPeer, &p.RecordedAt, &p.ObservedAt}, func() error {
		u, err := uuid.Parse(id)
		if err != nil {
			return err
		}
		p.EventID = u
		p.RecordedAt, p.ObservedAt = p.RecordedAt.UTC(), p.ObservedAt.UTC()
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading provenance: %w", err)
	}
	return out, nil
}

// edgeCounts counts the edges whose column (start_id or end_id) is the
// vertex graphid, by label, with the edge label tables' endpoint indexes.
func edgeCounts(ctx context.Context, tx pgx.Tx, g, column, graphid string) (map[string]int64, error) {
	rows, err := tx.Query(ctx, `SELECT l.name::text, count(*)
		FROM `+g+`._ag_label_edge e JOIN ag_catalog.ag_label l ON l.relation = e.tableoid::regclass
		WHERE e.`+column+` = $1::text::ag_catalog.graphid GROUP BY 1`, graphid)
	if err != nil {
		return nil, fmt.Errorf("counting edges: %w", err)
	}
	out := map[string]int64{}
	var l string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&l, &n}, func() error { out[l] = n; return nil }); err != nil {
		return nil, fmt.Errorf("counting edges: %w", err)
	}
	return out, nil
}

// Counts returns the number of vertices and edges of the active graph.
func (s *Store) Counts(ctx context.Context) (vertices, edges int64, err error) {
	err = s.readActive(ctx, func(tx pgx.Tx, gen graph.Generation) error {
		vertices, edges, err = counts(ctx, tx, gen)
		return err
	})
	return vertices, edges, err
}

// GenerationCounts returns the number of vertices and edges of gen's graph.
func (s *Store) GenerationCounts(ctx context.Context, gen graph.Generation) (vertices, edges int64, err error) {
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		vertices, edges, err = counts(ctx, tx, gen)
		return err
	})
	return vertices, edges, err
}

func counts(ctx context.Context, tx pgx.Tx, gen graph.Generation) (int64, int64, error) {
	g := quoteIdent(gen.Graph)
	var v, e int64
	if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+g+`._ag_label_vertex), (SELECT count(*) FROM `+g+`._ag_label_edge)`).Scan(&v, &e); err != nil {
		return 0, 0, fmt.Errorf("counting the elements of graph %s: %w", gen.Graph, err)
	}
	return v, e, nil
}

// Digest hashes the active graph: in key order, every vertex (label and
// properties but last_seen) and every edge (label, start and end keys,
// properties but last_seen). Two graphs built from the same events have the
// same digest whatever their graphids; tests use it to compare graphs.
func (s *Store) Digest(ctx context.Context) (string, error) {
	var d string
	err := s.readActive(ctx, func(tx pgx.Tx, gen graph.Generation) error {
		var err error
		d, err = digest(ctx, tx, gen)
		return err
	})
	return d, err
}

// GenerationDigest is Digest for any generation.
func (s *Store) GenerationDigest(ctx context.Context, gen graph.Generation) (string, error) {
	var d string
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		d, err = digest(ctx, tx, gen)
		return err
	})
	return d, err
}

func digest(ctx context.Context, tx pgx.Tx, gen graph.Generation) (string, error) {
	g := quoteIdent(gen.Graph)
	h := sha256.New()
	write := func(parts ...string) {
		for _, p := range parts {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
		h.Write([]byte{'\n'})
	}
	rows, err := tx.Query(ctx, `SELECT l.name::text, ag_catalog.agtype_out(v.properties)::text
		FROM `+g+`._ag_label_vertex v JOIN ag_catalog.ag_label l ON l.relation = v.tableoid::regclass
		ORDER BY `+keyOf("v")+` COLLATE "C"`)
	if err != nil {
		return "", fmt.Errorf("digesting graph %s: %w", gen.Graph, err)
	}
	var label, props string
	_, err = pgx.ForEachRow(rows, []any{&label, &props}, func() error {
		p, err := canonicalProps(props)
		if err != nil {
			return err
		}
		write("v", label, p)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("digesting the vertices of graph %s: %w", gen.Graph, err)
	}
	rows, err = tx.Query(ctx, `SELECT l.name::text, `+keyOf("s")+`, `+keyOf("t")+`, ag_catalog.agtype_out(e.properties)::text
		FROM `+g+`._ag_label_edge e JOIN ag_catalog.ag_label l ON l.relation = e.tableoid::regclass
		JOIN `+g+`._ag_label_vertex s ON s.id = e.start_id
		JOIN `+g+`._ag_label_vertex t ON t.id = e.end_id
		ORDER BY `+keyOf("e")+` COLLATE "C"`)
	if err != nil {
		return "", fmt.Errorf("digesting graph %s: %w", gen.Graph, err)
	}
	var start, end string
	_, err = pgx.ForEachRow(rows, []any{&label, &start, &end, &props}, func() error {
		p, err := canonicalProps(props)
		if err != nil {
			return err
		}
		write("e", label, start, end, p)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("digesting the edges of graph %s: %w", gen.Graph, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// keyOf is the key property of an element as text (agtype's rendering).
func keyOf(alias string) string {
	return `ag_catalog.agtype_access_operator(` + alias + `.properties, '"key"'::ag_catalog.agtype)::text`
}

// canonicalProps re-encodes agtype properties as JSON with sorted keys and
// without last_seen.
func canonicalProps(agtype string) (string, error) {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader([]byte(agtype)))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return "", fmt.Errorf("properties are not a JSON object: %w", err)
	}
	delete(m, "last_seen")
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
