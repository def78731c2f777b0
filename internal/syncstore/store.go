package syncstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/sync/agent"
	"github.com/heimdallhub/heimdall/sync/exchange"
)

const ddl = `
CREATE SCHEMA IF NOT EXISTS heimdall_sync;
CREATE TABLE IF NOT EXISTS heimdall_sync.checkpoints (
	peer        text COLLATE "C" NOT NULL,
	partition   integer NOT NULL,
	next_offset bigint NOT NULL,
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (peer, partition)
);
-- One row per imported event: the claim that makes an event delivered by
-- two peers (a mesh) be appended once.
CREATE TABLE IF NOT EXISTS heimdall_sync.imported (
	event_id    uuid PRIMARY KEY,
	peer        text COLLATE "C" NOT NULL,
	imported_at timestamptz NOT NULL DEFAULT now()
);
-- An import batch: its events' claims (imported.batch) committed before
-- they were appended to the local log, and not yet settled. A batch left
-- by a crash is resolved from the log (agent.Recover): the claims of the
-- events found there become final, the others are released for the
-- next pull.
CREATE TABLE IF NOT EXISTS heimdall_sync.batches (
	id         bigserial PRIMARY KEY,
	peer       text COLLATE "C" NOT NULL,
	owner      uuid NOT NULL,
	started_at timestamptz NOT NULL
);
ALTER TABLE heimdall_sync.imported ADD COLUMN IF NOT EXISTS batch bigint;
CREATE INDEX IF NOT EXISTS imported_batch ON heimdall_sync.imported (batch) WHERE batch IS NOT NULL;
CREATE TABLE IF NOT EXISTS heimdall_sync.peers (
	peer         text COLLATE "C" PRIMARY KEY,
	paused       boolean,          -- null: as the peers file says
	paused_by    text NOT NULL DEFAULT '',
	paused_at    timestamptz,
	last_contact timestamptz,
	last_ok      timestamptz,
	last_error   text NOT NULL DEFAULT '',
	lag          bigint NOT NULL DEFAULT 0,
	imported     bigint NOT NULL DEFAULT 0,
	duplicates   bigint NOT NULL DEFAULT 0
);
-- The greatest HLC among the events imported from the peer: the local
-- clocks observe it (agent.FeedClock).
ALTER TABLE heimdall_sync.peers ADD COLUMN IF NOT EXISTS max_hlc bigint NOT NULL DEFAULT 0;
-- Ranges of a peer's log that anti-entropy verified: every event id the
-- peer would send from [from_offset, until_offset) of the partition was
-- imported here, when the ids had this count and SHA-256.
CREATE TABLE IF NOT EXISTS heimdall_sync.verified_ranges (
	peer         text COLLATE "C" NOT NULL,
	partition    integer NOT NULL,
	from_offset  bigint NOT NULL,
	until_offset bigint NOT NULL,
	ids          bigint NOT NULL,
	digest       bytea NOT NULL,
	verified_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (peer, partition, from_offset)
);`

// Store implements agent.Store.
type Store struct {
	pool       *pgxpool.Pool
	filePaused map[string]bool
	conflicts  ConflictCounter
}

var _ agent.Store = (*Store)(nil)

// ConflictCounter counts the conflicting reclassifications the graph read
// model recorded, per origin peer of the winning or the losing event, and
// in all (internal/graphstore implements it).
type ConflictCounter interface {
	ConflictsByPeer(ctx context.Context) (map[string]int64, int64, error)
}

// Option configures New.
type Option func(*Store)

// WithConflicts makes Status report each peer's conflicts as c counts them.
func WithConflicts(c ConflictCounter) Option { return func(s *Store) { s.conflicts = c } }

// New prepares the schema. filePaused are the peers the peers file pauses
// (a pause or resume command overrides it).
func New(ctx context.Context, pool *pgxpool.Pool, filePaused map[string]bool, opts ...Option) (*Store, error) {
	if _, err := pool.Exec(ctx, ddl); err != nil {
		return nil, fmt.Errorf("preparing the sync schema: %w", err)
	}
	s := &Store{pool: pool, filePaused: filePaused}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Checkpoint implements agent.Store.
func (s *Store) Checkpoint(ctx context.Context, peer string) (exchange.Cursor, error) {
	rows, err := s.pool.Query(ctx, `SELECT partition, next_offset FROM heimdall_sync.checkpoints WHERE peer = $1`, peer)
	if err != nil {
		return nil, err
	}
	c := exchange.Cursor{}
	var p int32
	var o int64
	_, err = pgx.ForEachRow(rows, []any{&p, &o}, func() error { c[p] = o; return nil })
	return c, err
}

// Claim implements agent.Store. The claims are inserted in one statement,
// in one lock order for every importer: a concurrent claim of the same
// event id (from another peer) waits on the row until this transaction
// ends, then finds it claimed.
func (s *Store) Claim(ctx context.Context, peer string, owner uuid.UUID, items []agent.Item, at time.Time) ([]agent.Item, int64, error) {
	if len(items) == 0 {
		return nil, 0, nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var batch int64
	if err := tx.QueryRow(ctx, `INSERT INTO heimdall_sync.batches (peer, owner, started_at) VALUES ($1, $2, $3) RETURNING id`,
		peer, owner, at).Scan(&batch); err != nil {
		return nil, 0, err
	}
	ids := make([]uuid.UUID, len(items))
	for i, it := range items {
		ids[i] = it.EventID
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	rows, err := tx.Query(ctx, `INSERT INTO heimdall_sync.imported (event_id, peer, batch)
		SELECT id, $2, $3 FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n) ORDER BY n ON CONFLICT (event_id) DO NOTHING RETURNING event_id`, ids, peer, batch)
	if err != nil {
		return nil, 0, err
	}
	claimed := map[uuid.UUID]bool{}
	var id uuid.UUID
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { claimed[id] = true; return nil }); err != nil {
		return nil, 0, err
	}
	var fresh []agent.Item
	for _, it := range items {
		if claimed[it.EventID] {
			fresh = append(fresh, it)
			delete(claimed, it.EventID) // an id twice in one chunk is appended once
		}
	}
	if len(fresh) == 0 {
		return nil, 0, nil // the batch row goes with the rollback
	}
	return fresh, batch, tx.Commit(ctx)
}

// Settle implements agent.Store.
func (s *Store) Settle(ctx context.Context, peer string, batch int64, items []agent.Item, fresh int, cursor exchange.Cursor) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if batch != 0 {
		tag, err := tx.Exec(ctx, `DELETE FROM heimdall_sync.batches WHERE id = $1`, batch)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("import batch %d is no longer pending", batch)
		}
		if _, err := tx.Exec(ctx, `UPDATE heimdall_sync.imported SET batch = NULL WHERE batch = $1`, batch); err != nil {
			return err
		}
	}
	parts := make([]int32, 0, len(cursor))
	offs := make([]int64, 0, len(cursor))
	for p, o := range cursor {
		parts = append(parts, p)
		offs = append(offs, o)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO heimdall_sync.checkpoints (peer, partition, next_offset)
		SELECT $1, p, o FROM unnest($2::integer[], $3::bigint[]) AS t(p, o)
		ON CONFLICT (peer, partition) DO UPDATE SET next_offset = GREATEST(checkpoints.next_offset, excluded.next_offset), updated_at = now()`,
		peer, parts, offs); err != nil {
		return err
	}
	var maxHLC events.HLC
	for _, it := range items {
		maxHLC = max(maxHLC, it.HLC)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO heimdall_sync.peers (peer, imported, duplicates, max_hlc) VALUES ($1, $2, $3, $4)
		ON CONFLICT (peer) DO UPDATE SET imported = peers.imported + $2, duplicates = peers.duplicates + $3,
			max_hlc = GREATEST(peers.max_hlc, $4)`,
		peer, fresh, len(items)-fresh, int64(maxHLC)); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Pending implements agent.Store.
func (s *Store) Pending(ctx context.Context) ([]agent.Batch, error) {
	rows, err := s.pool.Query(ctx, `SELECT b.id, b.peer, b.owner, b.started_at,
			coalesce((SELECT array_agg(i.event_id) FROM heimdall_sync.imported i WHERE i.batch = b.id), '{}')
		FROM heimdall_sync.batches b ORDER BY b.id`)
	if err != nil {
		return nil, err
	}
	var out []agent.Batch
	var b agent.Batch
	_, err = pgx.ForEachRow(rows, []any{&b.ID, &b.Peer, &b.Owner, &b.Started, &b.IDs}, func() error {
		out = append(out, b)
		b = agent.Batch{}
		return nil
	})
	return out, err
}

// Resolve implements agent.Store.
func (s *Store) Resolve(ctx context.Context, batch int64, found []uuid.UUID) (settled, released int, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var peer string
	if err := tx.QueryRow(ctx, `DELETE FROM heimdall_sync.batches WHERE id = $1 RETURNING peer`, batch).Scan(&peer); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, 0, nil // resolved already
		}
		return 0, 0, err
	}
	tag, err := tx.Exec(ctx, `UPDATE heimdall_sync.imported SET batch = NULL WHERE batch = $1 AND event_id = ANY($2::uuid[])`, batch, found)
	if err != nil {
		return 0, 0, err
	}
	settled = int(tag.RowsAffected())
	if tag, err = tx.Exec(ctx, `DELETE FROM heimdall_sync.imported WHERE batch = $1`, batch); err != nil {
		return 0, 0, err
	}
	released = int(tag.RowsAffected())
	if _, err := tx.Exec(ctx, `INSERT INTO heimdall_sync.peers (peer, imported) VALUES ($1, $2)
		ON CONFLICT (peer) DO UPDATE SET imported = peers.imported + $2`, peer, settled); err != nil {
		return 0, 0, err
	}
	return settled, released, tx.Commit(ctx)
}

// Verified implements agent.Store.
func (s *Store) Verified(ctx context.Context, peer string, partition int32) (map[int64]exchange.RangeDigest, error) {
	rows, err := s.pool.Query(ctx, `SELECT from_offset, until_offset, ids, digest FROM heimdall_sync.verified_ranges
		WHERE peer = $1 AND partition = $2`, peer, partition)
	if err != nil {
		return nil, err
	}
	out := map[int64]exchange.RangeDigest{}
	var (
		d   exchange.RangeDigest
		sum []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&d.From, &d.Until, &d.Count, &sum}, func() error {
		if len(sum) != len(d.Sum) {
			return fmt.Errorf("a verified range of %s holds a %d-byte digest", peer, len(sum))
		}
		d.Partition = partition
		copy(d.Sum[:], sum)
		out[d.From] = d
		return nil
	})
	return out, err
}

// MarkVerified implements agent.Store.
func (s *Store) MarkVerified(ctx context.Context, peer string, d exchange.RangeDigest) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO heimdall_sync.verified_ranges (peer, partition, from_offset, until_offset, ids, digest)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (peer, partition, from_offset) DO UPDATE SET until_offset = excluded.until_offset, ids = excluded.ids,
			digest = excluded.digest, verified_at = now()`, peer, d.Partition, d.From, d.Until, d.Count, d.Sum[:])
	return err
}

// MaxImportedHLC is the greatest HLC of the events imported from any peer
// (zero if none): the value the local clocks observe (agent.FeedClock).
func (s *Store) MaxImportedHLC(ctx context.Context) (events.HLC, error) {
	var h int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(max_hlc), 0) FROM heimdall_sync.peers`).Scan(&h)
	return events.HLC(h), err
}

// Contact implements agent.Store.
func (s *Store) Contact(ctx context.Context, peer string, at time.Time, lag int64, pullErr error) error {
	msg := ""
	if pullErr != nil {
		msg = pullErr.Error()
		if len(msg) > 500 {
			msg = msg[:500]
		}
		_, err := s.pool.Exec(ctx, `INSERT INTO heimdall_sync.peers (peer, last_contact, last_error) VALUES ($1, $2, $3)
			ON CONFLICT (peer) DO UPDATE SET last_contact = $2, last_error = $3`, peer, at, msg)
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO heimdall_sync.peers (peer, last_contact, last_ok, lag) VALUES ($1, $2, $2, $3)
		ON CONFLICT (peer) DO UPDATE SET last_contact = $2, last_ok = $2, lag = $3, last_error = ''`, peer, at, lag)
	return err
}

// Paused implements agent.Store: a pause command's decision, else the
// peers file's.
func (s *Store) Paused(ctx context.Context, peer string) (bool, error) {
	var paused *bool
	err := s.pool.QueryRow(ctx, `SELECT paused FROM heimdall_sync.peers WHERE peer = $1`, peer).Scan(&paused)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, err
	}
	if paused != nil {
		return *paused, nil
	}
	return s.filePaused[peer], nil
}

// SetPaused pauses or resumes a peer (both directions: this peer neither
// pulls from it nor serves it), recording who did it.
func (s *Store) SetPaused(ctx context.Context, peer string, paused bool, actor string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO heimdall_sync.peers (peer, paused, paused_by, paused_at) VALUES ($1, $2, $3, now())
		ON CONFLICT (peer) DO UPDATE SET paused = $2, paused_by = $3, paused_at = now()`, peer, paused, actor)
	return err
}

// Reset forgets the cursor of peer: the next pull starts from the
// beginning of its log (already imported events are recognised and not
// appended again).
func (s *Store) Reset(ctx context.Context, peer string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM heimdall_sync.checkpoints WHERE peer = $1`, peer)
	return err
}

// PeerStatus is one peer's import state.
type PeerStatus struct {
	Peer        string          `json:"peer"`
	Paused      bool            `json:"paused"`
	PausedBy    string          `json:"paused_by,omitempty"`
	LastContact *time.Time      `json:"last_contact,omitempty"`
	LastOK      *time.Time      `json:"last_ok,omitempty"`
	LastError   string          `json:"last_error,omitempty"`
	Lag         int64           `json:"lag_records"`
	Imported    int64           `json:"imported"`
	Duplicates  int64           `json:"duplicates"`
	Checkpoint  exchange.Cursor `json:"checkpoint"`
	// Conflicts counts the conflicting reclassifications recorded by the
	// graph projector (in the active graph) in which an event of the peer
	// won or lost (with WithConflicts; else 0).
	Conflicts int64 `json:"conflicts"`
}

// Status returns the state of each of peers (in that order).
func (s *Store) Status(ctx context.Context, peers []string) ([]PeerStatus, error) {
	var conflicts map[string]int64
	if s.conflicts != nil {
		var err error
		if conflicts, _, err = s.conflicts.ConflictsByPeer(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]PeerStatus, 0, len(peers))
	for _, p := range peers {
		st := PeerStatus{Peer: p, Conflicts: conflicts[p]}
		var paused *bool
		err := s.pool.QueryRow(ctx, `SELECT paused, paused_by, last_contact, last_ok, last_error, lag, imported, duplicates
			FROM heimdall_sync.peers WHERE peer = $1`, p).Scan(&paused, &st.PausedBy, &st.LastContact, &st.LastOK, &st.LastError, &st.Lag, &st.Imported, &st.Duplicates)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, err
		}
		st.Paused = s.filePaused[p]
		if paused != nil {
			st.Paused = *paused
		}
		if st.Checkpoint, err = s.Checkpoint(ctx, p); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// Missing implements agent.Store.
func (s *Store) Missing(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM unnest($1::uuid[]) AS id
		WHERE NOT EXISTS (SELECT 1 FROM heimdall_sync.imported i WHERE i.event_id = id)`, ids)
	if err != nil {
		return nil, err
	}
	out := map[uuid.UUID]bool{}
	var id uuid.UUID
	_, err = pgx.ForEachRow(rows, []any{&id}, func() error { out[id] = true; return nil })
	return out, err
}
