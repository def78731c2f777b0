package auditstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heimdallhub/heimdall/projections/audit"
)

// lockClassRebuild is the advisory lock class of audit trail rebuilds
// (session-level: a rebuild that dies, even by kill -9, releases it with its
// connection).
const lockClassRebuild int32 = 0x48415231 // "HAR1"

// ErrRebuildRunning is returned by LockRebuild when another process is
// rebuilding the audit trail.
var ErrRebuildRunning = errors.New("another audit trail rebuild is running")

// LockRebuild takes the audit trail rebuild lock, waiting up to wait for
// another holder to let go; release lets it go.
func (s *Store) LockRebuild(ctx context.Context, wait time.Duration) (release func(), err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("locking the audit trail rebuild: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, 0)", lockClassRebuild).Scan(&ok); err != nil {
			conn.Release()
			return nil, fmt.Errorf("locking the audit trail rebuild: %w", err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			conn.Release()
			return nil, fmt.Errorf("locking the audit trail rebuild: %w", ErrRebuildRunning)
		}
		select {
		case <-ctx.Done():
			conn.Release()
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1, 0)", lockClassRebuild); err != nil {
			_ = conn.Conn().Close(ctx) // ending the session releases the lock
		}
		conn.Release()
	}, nil
}

// RebuildInProgress reports whether a rebuild's tables exist (a rebuild is
// running, or was interrupted and can be resumed).
func (s *Store) RebuildInProgress(ctx context.Context) (bool, error) {
	var exists bool
	err := s.pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL",
		nextTables.log, nextTables.offsets).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("checking for an audit trail rebuild: %w", err)
	}
	return exists, nil
}

// BeginRebuild prepares a rebuild of the audit trail into new tables
// (log_next, offsets_next) while the live ones keep serving. Without fresh,
// an interrupted rebuild's tables are kept and resumed is true: their
// offsets were stored with their entries, so the rebuild continues where it
// stopped. fresh drops them and starts anew. The caller must hold the
// rebuild lock (LockRebuild).
func (s *Store) BeginRebuild(ctx context.Context, fresh bool) (resumed bool, err error) {
	exists, err := s.RebuildInProgress(ctx)
	if err != nil {
		return false, err
	}
	if exists && !fresh {
		return true, nil
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+nextTables.log+", "+nextTables.offsets+";\n"+nextTables.ddl())
		return err
	})
	if err != nil {
		return false, fmt.Errorf("beginning an audit trail rebuild: %w", err)
	}
	return false, nil
}

// AbandonRebuild drops the tables of a rebuild in progress, if any.
func (s *Store) AbandonRebuild(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, "DROP TABLE IF EXISTS "+nextTables.log+", "+nextTables.offsets); err != nil {
		return fmt.Errorf("abandoning the audit trail rebuild: %w", err)
	}
	return nil
}

// RebuildTarget is the audit.Store of the rebuild's tables, for a rebuild
// projector (audit.New) fed by kafka.ReadRange.
func (s *Store) RebuildTarget() audit.Store { return trail{db: s.pool, t: nextTables} }

// TopicOffsets returns every stored next offset of topic in the live trail
// (rebuild false) or in the rebuild's tables (rebuild true), by partition.
func (s *Store) TopicOffsets(ctx context.Context, topic string, rebuild bool) (map[int32]int64, error) {
	t := liveTables
	if rebuild {
		t = nextTables
	}
	return topicOffsets(ctx, s.pool, t, topic)
}

func topicOffsets(ctx context.Context, q db, t tables, topic string) (map[int32]int64, error) {
	rows, err := q.Query(ctx, `SELECT partition, next_offset FROM `+t.offsets+` WHERE topic = $1`, topic)
	if err != nil {
		return nil, fmt.Errorf("reading audit offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	var p int32
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&p, &n}, func() error { out[p] = n; return nil }); err != nil {
		return nil, fmt.Errorf("reading audit offsets of %s: %w", topic, err)
	}
	return out, nil
}

// Count returns the number of entries in the live trail (rebuild false) or
// in the rebuild's table.
func (s *Store) Count(ctx context.Context, rebuild bool) (int64, error) {
	t := liveTables
	if rebuild {
		t = nextTables
	}
	var n int64
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM "+t.log).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting audit entries: %w", err)
	}
	return n, nil
}

// SwapStats says what FinishRebuild did.
type SwapStats struct {
	CaughtUp int64           // entries the catch-up added inside the swap transaction
	Merged   int64           // entries copied from the old trail (only if the catch-up left a gap)
	Entries  int64           // entries in the trail now
	Offsets  map[int32]int64 // its next offsets of the topic now
}

// FinishRebuild puts the rebuilt trail in place of the live one, in one
// transaction:
//
//  1. it locks the live tables in EXCLUSIVE mode: readers of the trail go
//     on, the live projector's next Append waits;
//  2. catchUp (if not nil) applies, through the audit.Store it is given
//     (the rebuild's tables, inside the transaction), what the log holds
//     beyond the rebuild's offsets: reading up to the current end offsets,
//     it covers everything the live projector has stored;
//  3. if the live offsets of a partition of topic are still ahead of the
//     rebuild's, every live entry is copied over (idempotent by event id);
//     either way the rebuild's offsets become the greater of both, per
//     partition;
//  4. it drops the live tables and gives theirs names (tables, indexes,
//     constraints) to the rebuild's, then commits.
//
// The live projector's waiting Append then writes to the new tables
// (PostgreSQL resolves the names again once the lock is released); its
// entries are ignored if the catch-up stored them already, and offsets only
// move forward, so it continues correctly from where it was. The swap is
// retried while the lock cannot be taken within a few seconds.
func (s *Store) FinishRebuild(ctx context.Context, topic string, catchUp func(ctx context.Context, target audit.Store) error) (SwapStats, error) {
	var out SwapStats
	var err error
	for attempt := 1; ; attempt++ {
		out, err = s.swap(ctx, topic, catchUp)
		var pe *pgconn.PgError
		if err == nil || attempt == 5 || !errors.As(err, &pe) || pe.Code != "55P03" { // lock_not_available
			break
		}
	}
	if err != nil {
		return SwapStats{}, fmt.Errorf("swapping in the rebuilt audit trail: %w", err)
	}
	return out, nil
}

func (s *Store) swap(ctx context.Context, topic string, catchUp func(ctx context.Context, target audit.Store) error) (SwapStats, error) {
	var out SwapStats
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '10s'`); err != nil {
			return err
		}
		// The order of Append's writes: log, then offsets.
		if _, err := tx.Exec(ctx, `LOCK TABLE `+liveTables.log+`, `+liveTables.offsets+` IN EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("locking the audit trail: %w", err)
		}
		count := func(table string) (int64, error) {
			var n int64
			err := tx.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n)
			return n, err
		}
		before, err := count(nextTables.log)
		if err != nil {
			return err
		}
		if catchUp != nil {
			if err := catchUp(ctx, trail{db: tx, t: nextTables}); err != nil {
				return fmt.Errorf("catching up with the audit log: %w", err)
			}
		}
		after, err := count(nextTables.log)
		if err != nil {
			return err
		}
		out.CaughtUp = after - before
		live, err := topicOffsets(ctx, tx, liveTables, topic)
		if err != nil {
			return err
		}
		next, err := topicOffsets(ctx, tx, nextTables, topic)
		if err != nil {
			return err
		}
		behind := false
		for p, l := range live {
			behind = behind || next[p] < l
		}
		if behind {
			tag, err := tx.Exec(ctx, `INSERT INTO `+nextTables.log+` SELECT * FROM `+liveTables.log+` ON CONFLICT (event_id) DO NOTHING`)
			if err != nil {
				return fmt.Errorf("merging the live audit entries: %w", err)
			}
			out.Merged = tag.RowsAffected()
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+nextTables.offsets+` AS o (topic, partition, next_offset)
			SELECT topic, partition, next_offset FROM `+liveTables.offsets+` WHERE topic = $1
			ON CONFLICT (topic, partition) DO UPDATE SET next_offset = GREATEST(o.next_offset, EXCLUDED.next_offset)`, topic); err != nil {
			return fmt.Errorf("merging the audit offsets: %w", err)
		}
		stmts := []string{
			`DROP TABLE ` + liveTables.log + `, ` + liveTables.offsets,
			`ALTER TABLE ` + nextTables.log + ` RENAME TO log`,
			`ALTER TABLE ` + liveTables.log + ` RENAME CONSTRAINT log_next_pkey TO log_pkey`,
			`ALTER TABLE ` + nextTables.offsets + ` RENAME TO offsets`,
			`ALTER TABLE ` + liveTables.offsets + ` RENAME CONSTRAINT offsets_next_pkey TO offsets_pkey`,
		}
		for _, ix := range logIndexes {
			stmts = append(stmts, `ALTER INDEX heimdall_audit.`+nextTables.index+`_`+ix+` RENAME TO `+liveTables.index+`_`+ix)
		}
		for _, stmt := range stmts {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("renaming the rebuilt audit trail: %w", err)
			}
		}
		if out.Entries, err = count(liveTables.log); err != nil {
			return err
		}
		out.Offsets, err = topicOffsets(ctx, tx, liveTables, topic)
		return err
	})
	return out, err
}
