package graphstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// MetricReclassificationConflicts counts the conflicting reclassifications
// the store recorded (each pair once per generation).
const MetricReclassificationConflicts = "heimdall_graph_reclassification_conflicts_total"

func newConflictsCounter(reg prometheus.Registerer) (prometheus.Counter, error) {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: MetricReclassificationConflicts,
		Help: "Conflicting reclassifications (two classification changes of one record with concurrent version vectors) newly recorded by the graph projector; a rebuild records them again."})
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(prometheus.Counter); ok {
				return existing, nil
			}
		}
		return nil, fmt.Errorf("registering %s: %w", MetricReclassificationConflicts, err)
	}
	return c, nil
}

// newConflicts returns the conflicts that the batch's classification
// changes bring against the reclassifications log (graph.NewConflicts). The
// batch runs exclusively (it holds classification changes), so the log
// does not change under it.
func newConflicts(ctx context.Context, tx pgx.Tx, g string, rs []graph.Reclassified) ([]graph.Conflict, error) {
	types, keys := make([]string, 0, len(rs)), make([]string, 0, len(rs))
	for i, r := range rs {
		if i > 0 && r.RecordType == rs[i-1].RecordType && r.RecordKey == rs[i-1].RecordKey {
			continue
		}
		types, keys = append(types, r.RecordType), append(keys, r.RecordKey)
	}
	rows, err := tx.Query(ctx, `SELECT r.record_type, r.record_key, r.event_id, r.level, r.hlc, r.peer, r.vector::text
		FROM unnest($1::text[], $2::text[]) AS u(t, k)
		JOIN `+g+`.reclassifications r ON r.record_type = u.t AND r.record_key = u.k`, types, keys)
	if err != nil {
		return nil, fmt.Errorf("reading the reclassifications log: %w", err)
	}
	var (
		history []graph.Reclassified
		r       graph.Reclassified
		hlc     int64
		vec     string
	)
	_, err = pgx.ForEachRow(rows, []any{&r.RecordType, &r.RecordKey, &r.EventID, &r.Level, &hlc, &r.Peer, &vec}, func() error {
		r.HLC, r.Vector = events.HLC(hlc), nil
		if err := json.Unmarshal([]byte(vec), &r.Vector); err != nil {
			return fmt.Errorf("decoding the vector of reclassification %s: %w", r.EventID, err)
		}
		r.Vector = nonEmpty(r.Vector)
		history = append(history, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the reclassifications log: %w", err)
	}
	return graph.NewConflicts(history, rs), nil
}

// queueReclassifications queues the insert of the batch's classification
// changes into the reclassifications log (sorted: one lock order).
func queueReclassifications(out *writes, g string, rs []graph.Reclassified) {
	n := len(rs)
	types, keys, ids, levels, peers, vecs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	hlcs := make([]int64, n)
	for i, r := range rs {
		types[i], keys[i], ids[i], levels[i], hlcs[i], peers[i] = r.RecordType, r.RecordKey, r.EventID.String(), r.Level, int64(r.HLC), r.Peer
		vecs[i] = string(graph.AppendJSONVector(nil, r.Vector))
	}
	out.queue(-1, `INSERT INTO `+g+`.reclassifications (record_type, record_key, event_id, level, hlc, peer, vector)
		SELECT t, k, i, l, h, p, v::jsonb FROM unnest($1::text[], $2::text[], $3::text[]::uuid[], $4::text[], $5::bigint[], $6::text[], $7::text[])
			AS u(t, k, i, l, h, p, v)
		ON CONFLICT DO NOTHING`, types, keys, ids, levels, hlcs, peers, vecs)
}

// queueConflicts queues the insert of the conflicts met by a batch (once
// each, in key order); n receives how many were not recorded before.
func queueConflicts(out *writes, g string, cs []graph.Conflict, n *int64) {
	if len(cs) == 0 {
		return
	}
	type id struct {
		key           string
		winner, loser uuid.UUID
	}
	seen := make(map[id]bool, len(cs))
	uniq := cs[:0:0]
	for _, c := range cs {
		k := id{c.RecordKey, c.Winner.EventID, c.Loser.EventID}
		if !seen[k] {
			seen[k] = true
			uniq = append(uniq, c)
		}
	}
	slices.SortFunc(uniq, func(a, b graph.Conflict) int {
		if c := compareStrings(a.RecordKey, b.RecordKey); c != 0 {
			return c
		}
		if c := compareStrings(a.Winner.EventID.String(), b.Winner.EventID.String()); c != 0 {
			return c
		}
		return compareStrings(a.Loser.EventID.String(), b.Loser.EventID.String())
	})
	m := len(uniq)
	keys, types, rules := make([]string, m), make([]string, m), make([]string, m)
	wids, lids, wpeers, lpeers, wlevels, llevels := make([]string, m), make([]string, m), make([]string, m), make([]string, m), make([]string, m), make([]string, m)
	whlcs, lhlcs := make([]int64, m), make([]int64, m)
	for i, c := range uniq {
		keys[i], types[i], rules[i] = c.RecordKey, c.RecordType, c.Rule
		wids[i], wpeers[i], wlevels[i], whlcs[i] = c.Winner.EventID.String(), c.Winner.Peer, c.Winner.Level, int64(c.Winner.HLC)
		lids[i], lpeers[i], llevels[i], lhlcs[i] = c.Loser.EventID.String(), c.Loser.Peer, c.Loser.Level, int64(c.Loser.HLC)
	}
	out.queueCounted(n, `INSERT INTO `+g+`.reclassification_conflicts (record_key, winner_event, loser_event, record_type,
			winner_peer, loser_peer, winner_hlc, loser_hlc, winner_level, loser_level, rule)
		SELECT * FROM unnest($1::text[], $2::text[]::uuid[], $3::text[]::uuid[], $4::text[], $5::text[], $6::text[],
			$7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[])
		ON CONFLICT DO NOTHING`,
		keys, wids, lids, types, wpeers, lpeers, whlcs, lhlcs, wlevels, llevels, rules)
}

const conflictColumns = `record_key, winner_event, loser_event, record_type, winner_peer, loser_peer, winner_hlc, loser_hlc,
	winner_level, loser_level, rule, detected_at`

func scanConflicts(rows pgx.Rows) ([]graph.Conflict, error) {
	var (
		out []graph.Conflict
		c   graph.Conflict
		wh  int64
		lh  int64
		at  time.Time
	)
	_, err := pgx.ForEachRow(rows, []any{&c.RecordKey, &c.Winner.EventID, &c.Loser.EventID, &c.RecordType, &c.Winner.Peer,
		&c.Loser.Peer, &wh, &lh, &c.Winner.Level, &c.Loser.Level, &c.Rule, &at}, func() error {
		c.Winner.HLC, c.Loser.HLC, c.DetectedAt = events.HLC(wh), events.HLC(lh), at.UTC()
		out = append(out, c)
		return nil
	})
	return out, err
}

// Conflicts lists the conflicting reclassifications recorded in the active
// generation, oldest first (up to limit). Their registers carry no
// vectors.
func (s *Store) Conflicts(ctx context.Context, limit int) ([]graph.Conflict, error) {
	var out []graph.Conflict
	err := s.readActive(ctx, func(tx pgx.Tx, gen graph.Generation) error {
		rows, err := tx.Query(ctx, `SELECT `+conflictColumns+` FROM `+quoteIdent(gen.Graph)+`.reclassification_conflicts
			ORDER BY detected_at, record_key, winner_event, loser_event LIMIT $1`, limit)
		if err != nil {
			return err
		}
		out, err = scanConflicts(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading reclassification conflicts: %w", err)
	}
	return out, nil
}

// UnauditedConflicts implements graph.ConflictOutbox.
func (s *Store) UnauditedConflicts(ctx context.Context, limit int) (graph.Generation, []graph.Conflict, error) {
	var (
		out []graph.Conflict
		g   graph.Generation
	)
	err := s.readActive(ctx, func(tx pgx.Tx, gen graph.Generation) error {
		g = gen
		rows, err := tx.Query(ctx, `SELECT `+conflictColumns+` FROM `+quoteIdent(gen.Graph)+`.reclassification_conflicts
			WHERE audited_at IS NULL ORDER BY detected_at, record_key, winner_event, loser_event LIMIT $1`, limit)
		if err != nil {
			return err
		}
		out, err = scanConflicts(rows)
		return err
	})
	if err != nil {
		return graph.Generation{}, nil, fmt.Errorf("reading unaudited reclassification conflicts: %w", err)
	}
	return g, out, nil
}

// MarkConflictsAudited implements graph.ConflictOutbox. Conflicts of a
// generation dropped meanwhile are not marked: the generation that
// replaced it has rows of its own.
func (s *Store) MarkConflictsAudited(ctx context.Context, gen graph.Generation, cs []graph.Conflict) error {
	if len(cs) == 0 {
		return nil
	}
	keys, wids, lids := make([]string, len(cs)), make([]string, len(cs)), make([]string, len(cs))
	for i, c := range cs {
		keys[i], wids[i], lids[i] = c.RecordKey, c.Winner.EventID.String(), c.Loser.EventID.String()
	}
	_, err := s.pool.Exec(ctx, `UPDATE `+quoteIdent(gen.Graph)+`.reclassification_conflicts AS c SET audited_at = now()
		FROM unnest($1::text[], $2::text[]::uuid[], $3::text[]::uuid[]) AS u(k, w, l)
		WHERE c.record_key = u.k AND c.winner_event = u.w AND c.loser_event = u.l AND c.audited_at IS NULL`, keys, wids, lids)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table: the generation was dropped
		return nil
	}
	if err != nil {
		return fmt.Errorf("marking reclassification conflicts audited: %w", err)
	}
	return nil
}

// ConflictsByPeer counts the conflicts recorded in the active generation
// per origin peer of the winning or the losing event (a conflict between
// two events of one peer counts once for it), and in all.
func (s *Store) ConflictsByPeer(ctx context.Context) (map[string]int64, int64, error) {
	out := map[string]int64{}
	var total int64
	err := s.readActive(ctx, func(tx pgx.Tx, gen graph.Generation) error {
		t := quoteIdent(gen.Graph) + ".reclassification_conflicts"
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+t).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT peer, count(*) FROM (
				SELECT winner_peer AS peer, record_key, winner_event, loser_event FROM `+t+`
				UNION
				SELECT loser_peer, record_key, winner_event, loser_event FROM `+t+`) AS x
			GROUP BY peer`)
		if err != nil {
			return err
		}
		var p string
		var n int64
		_, err = pgx.ForEachRow(rows, []any{&p, &n}, func() error { out[p] = n; return nil })
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("counting reclassification conflicts: %w", err)
	}
	return out, total, nil
}

// CurrentReclassification returns the HLC and version vector of the
// winning reclassification of a record (recordType entity or relation) in
// the active generation, stored with the record or pending until it
// exists (a zero HLC when there is none), and the record's effective
// level ("" when it does not exist or is only a relation's endpoint). It
// implements classify.Current.
func (s *Store) CurrentReclassification(ctx context.Context, recordType, key string) (events.HLC, events.VersionVector, string, error) {
	table := ".entity_state"
	switch recordType {
	case graph.RecordEntity:
	case graph.RecordRelation:
		table = ".relation_state"
	default:
		return 0, nil, "", fmt.Errorf("reading the reclassification of %s: unknown record type %q", key, recordType)
	}
	var (
		rc    graph.Reclassification
		level *string
	)
	err := s.readActive(ctx, func(tx pgx.Tx, gen graph.Generation) error {
		g := quoteIdent(gen.Graph)
		var stored *string
		err := tx.QueryRow(ctx, `SELECT reclassification::text, classification FROM `+g+table+` WHERE key = $1`, key).Scan(&stored, &level)
		if err == nil {
			rc, err = decodeReclass(stored)
			return err
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var (
			hlc int64
			vec string
		)
		err = tx.QueryRow(ctx, `SELECT hlc, vector::text FROM `+g+`.pending_reclassifications WHERE type = $1 AND key = $2`,
			recordType, key).Scan(&hlc, &vec)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		rc.HLC = events.HLC(hlc)
		return json.Unmarshal([]byte(vec), &rc.Vector)
	})
	if err != nil {
		return 0, nil, "", fmt.Errorf("reading the reclassification of %s: %w", key, err)
	}
	lv := ""
	if level != nil {
		lv = *level
	}
	return rc.HLC, nonEmpty(rc.Vector), lv, nil
}
