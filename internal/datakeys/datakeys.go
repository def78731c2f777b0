package datakeys

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heimdallhub/heimdall/internal/pii/keys"
	"github.com/heimdallhub/heimdall/internal/pii/transform"
)

// lockID is the advisory lock serialising key creation and rotation.
const lockID = 0x6865696d64616c6b // "heimdalk"

const ddl = `
CREATE SCHEMA IF NOT EXISTS heimdall_keys;
CREATE TABLE IF NOT EXISTS heimdall_keys.data_keys (
	seq           bigserial   NOT NULL UNIQUE,
	id            text        PRIMARY KEY,
	purpose       text        NOT NULL,
	master_key_id text        NOT NULL,
	wrapped       bytea       NOT NULL,
	created_at    timestamptz NOT NULL DEFAULT now(),
	rewrapped_at  timestamptz
);`

// Store reads and writes wrapped data keys.
type Store struct {
	pool *pgxpool.Pool
}

// New prepares the table on pool.
func New(ctx context.Context, pool *pgxpool.Pool) (*Store, error) {
	if _, err := pool.Exec(ctx, ddl); err != nil {
		return nil, fmt.Errorf("preparing the data key table: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Open opens the key store of master (with previous master keys still
// accepted during a rotation): it loads every stored data key, creates the
// missing ones and stores them, under the advisory lock.
func (s *Store) Open(ctx context.Context, master keys.MasterKey, previous ...keys.MasterKey) (*transform.KeyStore, error) {
	var ks *transform.KeyStore
	err := s.locked(ctx, func(tx pgx.Tx) error {
		stored, err := load(ctx, tx)
		if err != nil {
			return err
		}
		ks, err = transform.NewKeyStore(master, stored, previous...)
		if err != nil {
			return fmt.Errorf("opening data keys: %w", err)
		}
		have := map[string]bool{}
		for _, w := range stored {
			have[w.ID] = true
		}
		for _, w := range ks.Wrapped() {
			if have[w.ID] {
				continue
			}
			if _, err := tx.Exec(ctx, `INSERT INTO heimdall_keys.data_keys (id, purpose, master_key_id, wrapped) VALUES ($1, $2, $3, $4)`,
				w.ID, string(w.Purpose), w.MasterKeyID, w.Wrapped); err != nil {
				return fmt.Errorf("storing data key %s: %w", w.ID, err)
			}
		}
		return nil
	})
	return ks, err
}

// Reload adds to ks the data keys other processes stored since it opened.
func (s *Store) Reload(ctx context.Context, ks *transform.KeyStore) error {
	stored, err := load(ctx, s.pool)
	if err != nil {
		return err
	}
	return ks.Load(stored)
}

// Rotation reports what Rotate did.
type Rotation struct {
	MasterKeyID string         `json:"master_key_id"`
	Keys        int            `json:"data_keys"`
	Rewrapped   []string       `json:"rewrapped"`
	ByMaster    map[string]int `json:"data_keys_by_master_key"`
}

// Rotate re-wraps under master every stored data key wrapped by one of
// previous, in one transaction, and checks that afterwards no key is left
// wrapped by another master key. Data ciphertexts are not touched.
func (s *Store) Rotate(ctx context.Context, master keys.MasterKey, previous ...keys.MasterKey) (Rotation, error) {
	var rot Rotation
	err := s.locked(ctx, func(tx pgx.Tx) error {
		stored, err := load(ctx, tx)
		if err != nil {
			return err
		}
		ks, err := transform.NewKeyStore(master, stored, previous...)
		if err != nil {
			return fmt.Errorf("opening data keys: %w", err)
		}
		changed, err := ks.RewrapStale()
		if err != nil {
			return err
		}
		for _, w := range changed {
			if _, err := tx.Exec(ctx, `UPDATE heimdall_keys.data_keys SET master_key_id = $2, wrapped = $3, rewrapped_at = now() WHERE id = $1`,
				w.ID, w.MasterKeyID, w.Wrapped); err != nil {
				return fmt.Errorf("storing re-wrapped data key %s: %w", w.ID, err)
			}
			rot.Rewrapped = append(rot.Rewrapped, w.ID)
		}
		have := map[string]bool{}
		for _, w := range stored {
			have[w.ID] = true
		}
		for _, w := range ks.Wrapped() {
			if !have[w.ID] { // a purpose had no key yet
				if _, err := tx.Exec(ctx, `INSERT INTO heimdall_keys.data_keys (id, purpose, master_key_id, wrapped) VALUES ($1, $2, $3, $4)`,
					w.ID, string(w.Purpose), w.MasterKeyID, w.Wrapped); err != nil {
					return fmt.Errorf("storing data key %s: %w", w.ID, err)
				}
			}
		}
		rot.MasterKeyID = master.ID()
		rot.ByMaster, err = countByMaster(ctx, tx)
		if err != nil {
			return err
		}
		for id, n := range rot.ByMaster {
			rot.Keys += n
			if id != master.ID() {
				return fmt.Errorf("%w: %d data keys still wrapped by %s after re-wrapping", transform.ErrWrongMaster, n, id)
			}
		}
		return nil
	})
	return rot, err
}

// ByMaster counts the stored data keys per wrapping master key id.
func (s *Store) ByMaster(ctx context.Context) (map[string]int, error) {
	return countByMaster(ctx, s.pool)
}

// Stored returns every stored data key, oldest first.
func (s *Store) Stored(ctx context.Context) ([]transform.WrappedKey, error) {
	return load(ctx, s.pool)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func load(ctx context.Context, q querier) ([]transform.WrappedKey, error) {
	rows, err := q.Query(ctx, `SELECT id, purpose, master_key_id, wrapped FROM heimdall_keys.data_keys ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("reading data keys: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (transform.WrappedKey, error) {
		var w transform.WrappedKey
		var p string
		err := r.Scan(&w.ID, &p, &w.MasterKeyID, &w.Wrapped)
		w.Purpose = transform.Purpose(p)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading data keys: %w", err)
	}
	return out, nil
}

func countByMaster(ctx context.Context, q querier) (map[string]int, error) {
	rows, err := q.Query(ctx, `SELECT master_key_id, count(*) FROM heimdall_keys.data_keys GROUP BY 1`)
	if err != nil {
		return nil, fmt.Errorf("counting data keys: %w", err)
	}
	out := map[string]int{}
	var (
		id string
		n  int
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		out[id] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("counting data keys: %w", err)
	}
	return out, nil
}

func (s *Store) locked(ctx context.Context, fn func(pgx.Tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return fmt.Errorf("data keys: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(lockID)); err != nil {
		return fmt.Errorf("data keys: lock: %w", err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("data keys: commit: %w", err)
	}
	return nil
}
