package auditstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heimdallhub/heimdall/projections/audit"
)

// logDDL creates a table of audit entries (@log@, qualified) with its
// indexes (names start with @i@); offsetsDDL a table of consumer offsets.
// The live trail is log and offsets; a rebuild fills log_next and
// offsets_next, which then take their names (rebuild.go).
const (
	logDDL = `CREATE TABLE IF NOT EXISTS @log@ (
	event_id    uuid PRIMARY KEY,
	action      text NOT NULL,
	outcome     text NOT NULL,
	actor_sub   text NOT NULL,
	actor_iss   text NOT NULL,
	request_id  text NOT NULL,
	recorded_at timestamptz NOT NULL,
	records     text[] NOT NULL,
	details     jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS @i@_recorded ON @log@ (recorded_at DESC, event_id DESC);
CREATE INDEX IF NOT EXISTS @i@_actor ON @log@ (actor_sub, recorded_at DESC);
CREATE INDEX IF NOT EXISTS @i@_records ON @log@ USING gin (records);`
	offsetsDDL = `CREATE TABLE IF NOT EXISTS @offsets@ (
	topic       text NOT NULL,
	partition   integer NOT NULL,
	next_offset bigint NOT NULL,
	PRIMARY KEY (topic, partition)
);`
)

// logIndexes are the suffixes of the log table's index names (besides its
// primary key, <table>_pkey).
var logIndexes = []string{"recorded", "actor", "records"}

// tables names one audit trail's tables.
type tables struct {
	log, offsets string // qualified names
	index        string // prefix of the log's index names
}

var (
	liveTables = tables{log: "heimdall_audit.log", offsets: "heimdall_audit.offsets", index: "log"}
	nextTables = tables{log: "heimdall_audit.log_next", offsets: "heimdall_audit.offsets_next", index: "log_next"}
)

// ddl creates the tables t.
func (t tables) ddl() string {
	r := strings.NewReplacer("@log@", t.log, "@i@", t.index, "@offsets@", t.offsets)
	return r.Replace(logDDL) + "\n" + r.Replace(offsetsDDL)
}

// MaxPage bounds one page.
const MaxPage = 1000

// Store is the audit trail.
type Store struct {
	pool *pgxpool.Pool
	live trail
}

// New prepares the schema on pool.
func New(ctx context.Context, pool *pgxpool.Pool) (*Store, error) {
	if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS heimdall_audit;\n"+liveTables.ddl()); err != nil {
		return nil, fmt.Errorf("preparing the audit trail: %w", err)
	}
	return &Store{pool: pool, live: trail{db: pool, t: liveTables}}, nil
}

var _ audit.Store = (*Store)(nil)

// Offsets implements audit.Store.
func (s *Store) Offsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error) {
	return s.live.Offsets(ctx, topic, partitions)
}

// Append implements audit.Store.
func (s *Store) Append(ctx context.Context, topic string, entries []audit.Entry, next map[int32]int64) error {
	return s.live.Append(ctx, topic, entries, next)
}

// db is what a trail writes through: the pool, or a transaction.
type db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// trail implements audit.Store on one pair of tables.
type trail struct {
	db db
	t  tables
}

// Offsets implements audit.Store.
func (s trail) Offsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT partition, next_offset FROM `+s.t.offsets+` WHERE topic = $1 AND partition = ANY($2::integer[])`, topic, partitions)
	if err != nil {
		return nil, fmt.Errorf("reading audit offsets: %w", err)
	}
	out := map[int32]int64{}
	var p int32
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&p, &n}, func() error { out[p] = n; return nil }); err != nil {
		return nil, fmt.Errorf("reading audit offsets: %w", err)
	}
	return out, nil
}

// Append implements audit.Store.
func (s trail) Append(ctx context.Context, topic string, entries []audit.Entry, next map[int32]int64) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		for _, e := range entries {
			details, err := json.Marshal(e.Details)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+s.t.log+`
					(event_id, action, outcome, actor_sub, actor_iss, request_id, recorded_at, records, details)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (event_id) DO NOTHING`,
				e.EventID, e.Action, e.Outcome, e.Actor.Subject, e.Actor.Issuer, e.RequestID, e.RecordedAt, e.Records, details); err != nil {
				return fmt.Errorf("storing audit entry: %w", err)
			}
		}
		for p, n := range next {
			if _, err := tx.Exec(ctx, `INSERT INTO `+s.t.offsets+` AS o (topic, partition, next_offset) VALUES ($1, $2, $3)
				ON CONFLICT (topic, partition) DO UPDATE SET next_offset = GREATEST(o.next_offset, EXCLUDED.next_offset)`,
				topic, p, n); err != nil {
				return fmt.Errorf("storing audit offsets: %w", err)
			}
		}
		return nil
	})
}

// Entries returns the entries matching q, newest first.
func (s *Store) Entries(ctx context.Context, q audit.Query) ([]audit.Entry, error) {
	if q.Limit < 1 || q.Limit > MaxPage {
		return nil, fmt.Errorf("limit must be 1 to %d", MaxPage)
	}
	var since, until, before any
	if !q.Since.IsZero() {
		since = q.Since
	}
	if !q.Until.IsZero() {
		until = q.Until
	}
	if q.Before != uuid.Nil {
		before = q.Before
	}
	rows, err := s.pool.Query(ctx, `SELECT event_id, action, outcome, actor_sub, actor_iss, request_id, recorded_at, records, details::text
		FROM heimdall_audit.log
		WHERE ($1 = '' OR actor_sub = $1) AND ($2 = '' OR action = $2) AND ($3 = '' OR records @> ARRAY[$3::text])
			AND ($4::timestamptz IS NULL OR recorded_at >= $4) AND ($5::timestamptz IS NULL OR recorded_at < $5)
			AND ($6::uuid IS NULL OR (recorded_at, event_id) < (SELECT recorded_at, event_id FROM heimdall_audit.log WHERE event_id = $6))
		ORDER BY recorded_at DESC, event_id DESC LIMIT $7`, q.Actor, q.Action, q.Record, since, until, before, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("reading the audit trail: %w", err)
	}
	var out []audit.Entry
	var e audit.Entry
	var details string
	_, err = pgx.ForEachRow(rows, []any{&e.EventID, &e.Action, &e.Outcome, &e.Actor.Subject, &e.Actor.Issuer, &e.RequestID,
		&e.RecordedAt, &e.Records, &details}, func() error {
		w := e
		w.RecordedAt = e.RecordedAt.UTC()
		w.Details = map[string]string{}
		if err := json.Unmarshal([]byte(details), &w.Details); err != nil {
			return err
		}
		out = append(out, w)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the audit trail: %w", err)
	}
	return out, nil
}
