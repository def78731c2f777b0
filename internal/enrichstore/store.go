package enrichstore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heimdallhub/heimdall/commands/enrich"
	"github.com/heimdallhub/heimdall/events"
)

const ddl = `
CREATE SCHEMA IF NOT EXISTS heimdall_enrich;
CREATE TABLE IF NOT EXISTS heimdall_enrich.offsets (
	topic       text COLLATE "C" NOT NULL,
	partition   integer NOT NULL,
	next_offset bigint NOT NULL,
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (topic, partition)
);
-- The backlog: one row per open job. Values are never personal (the
-- worker only enqueues values whose canonical key is the record key).
CREATE TABLE IF NOT EXISTS heimdall_enrich.jobs (
	id             text PRIMARY KEY,
	provider       text COLLATE "C" NOT NULL,
	record_key     text COLLATE "C" NOT NULL,
	kind           text NOT NULL,
	value          text NOT NULL,
	classification text NOT NULL,
	requested_at   timestamptz NOT NULL,
	created_at     timestamptz NOT NULL,
	force          boolean NOT NULL DEFAULT false,
	state          text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'in_flight')),
	not_before     timestamptz NOT NULL,
	claims         integer NOT NULL DEFAULT 0,
	deferrals      integer NOT NULL DEFAULT 0,
	owner          text,
	claimed_at     timestamptz,
	lease_until    timestamptz,
	traceparent    text NOT NULL DEFAULT ''
);
ALTER TABLE heimdall_enrich.jobs ADD COLUMN IF NOT EXISTS traceparent text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX IF NOT EXISTS jobs_open ON heimdall_enrich.jobs (provider, record_key);
CREATE INDEX IF NOT EXISTS jobs_ready ON heimdall_enrich.jobs (provider, not_before) WHERE state = 'pending';
-- The latest result per record and provider.
CREATE TABLE IF NOT EXISTS heimdall_enrich.results (
	provider     text COLLATE "C" NOT NULL,
	record_key   text COLLATE "C" NOT NULL,
	job_id       text NOT NULL,
	event_id     uuid NOT NULL,
	outcome      text NOT NULL,
	error_class  text NOT NULL,
	completed_at timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL,
	PRIMARY KEY (provider, record_key)
);
CREATE INDEX IF NOT EXISTS results_expires ON heimdall_enrich.results (expires_at);`

// Store implements enrich.Store.
type Store struct{ pool *pgxpool.Pool }

var _ enrich.Store = (*Store)(nil)

// New prepares the schema on pool.
func New(ctx context.Context, pool *pgxpool.Pool) (*Store, error) {
	if _, err := pool.Exec(ctx, ddl); err != nil {
		return nil, fmt.Errorf("preparing the enrichment schema: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Offsets implements enrich.Store.
func (s *Store) Offsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT partition, next_offset FROM heimdall_enrich.offsets WHERE topic = $1 AND partition = ANY($2::integer[])`, topic, partitions)
	if err != nil {
		return nil, fmt.Errorf("reading enrichment offsets: %w", err)
	}
	out := map[int32]int64{}
	var p int32
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&p, &n}, func() error { out[p] = n; return nil }); err != nil {
		return nil, fmt.Errorf("reading enrichment offsets: %w", err)
	}
	return out, nil
}

// Apply implements enrich.Store.
func (s *Store) Apply(ctx context.Context, b enrich.Batch, now time.Time) (enrich.ApplyStats, error) {
	var st enrich.ApplyStats
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		st = enrich.ApplyStats{Enqueued: map[string]int{}, Fresh: map[string]int{}, Coalesced: map[string]int{}}
		parts := make([]int32, 0, len(b.Next))
		for p := range b.Next {
			parts = append(parts, p)
		}
		sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
		// Make sure the offset rows exist, then lock them in order, so
		// batches of one partition apply one after the other.
		for _, p := range parts {
			if _, err := tx.Exec(ctx, `INSERT INTO heimdall_enrich.offsets (topic, partition, next_offset) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING`, b.Topic, p); err != nil {
				return err
			}
		}
		stored := map[int32]int64{}
		rows, err := tx.Query(ctx, `SELECT partition, next_offset FROM heimdall_enrich.offsets WHERE topic = $1 AND partition = ANY($2::integer[]) ORDER BY partition FOR UPDATE`, b.Topic, parts)
		if err != nil {
			return err
		}
		var p int32
		var n int64
		if _, err := pgx.ForEachRow(rows, []any{&p, &n}, func() error { stored[p] = n; return nil }); err != nil {
			return err
		}
		// Lock every (provider, record) the batch touches, in one order, so
		// a job completed concurrently (which takes the same lock) is
		// either fully seen (its result stands) or not yet done (its job
		// is open): never neither, which would start a second job.
		var lockNames []string
		for _, it := range b.Items {
			if it.Offset < stored[it.Partition] {
				continue
			}
			for _, c := range it.Completions {
				lockNames = append(lockNames, lockName(c.Provider, c.RecordKey))
			}
			for _, c := range it.Candidates {
				lockNames = append(lockNames, lockName(c.Provider, c.Subject.Key))
			}
		}
		if len(lockNames) > 0 {
			if _, err := tx.Exec(ctx, lockRecords, lockNames); err != nil {
				return err
			}
		}
		// Every statement of the batch goes in one round trip.
		var batch pgx.Batch
		// What each queued statement group is, in queue order: a
		// completion (two statements) or a candidate (one row back).
		type pending struct {
			provider  string
			candidate bool
		}
		var queued []pending
		for _, it := range b.Items {
			if it.Offset < stored[it.Partition] {
				st.Replayed++
				continue
			}
			for _, c := range it.Completions {
				queueComplete(&batch, c)
				queued = append(queued, pending{})
				st.Completed++
			}
			for _, c := range it.Candidates {
				queueEnqueue(&batch, c, now)
				queued = append(queued, pending{provider: c.Provider, candidate: true})
			}
		}
		if batch.Len() > 0 {
			br := tx.SendBatch(ctx, &batch)
			for _, c := range queued {
				if !c.candidate {
					for range 2 {
						if _, err := br.Exec(); err != nil {
							br.Close()
							return err
						}
					}
					continue
				}
				var fresh, inserted bool
				if err := br.QueryRow().Scan(&fresh, &inserted); err != nil {
					br.Close()
					return err
				}
				switch {
				case inserted:
					st.Enqueued[c.provider]++
				case fresh:
					st.Fresh[c.provider]++
				default:
					st.Coalesced[c.provider]++
				}
			}
			if err := br.Close(); err != nil {
				return err
			}
		}
		for _, p := range parts {
			if _, err := tx.Exec(ctx, `UPDATE heimdall_enrich.offsets SET next_offset = GREATEST(next_offset, $3), updated_at = now() WHERE topic = $1 AND partition = $2`,
				b.Topic, p, b.Next[p]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return enrich.ApplyStats{}, fmt.Errorf("applying an enrichment batch: %w", err)
	}
	return st, nil
}

// Per-record locks: transaction-scoped advisory locks on one of 1024
// buckets of a hash of provider and record key (so a big batch takes at
// most 1024 locks, well within the lock table). Apply takes those of every
// record of a batch, in bucket order in one statement; Complete takes its
// one record's; so no two transactions wait on each other in opposite
// orders.
const (
	// 1212501553 is 0x48454e31, "HEN1": the class of these locks.
	lockRecords = `SELECT count(pg_advisory_xact_lock(1212501553, b)) FROM
		(SELECT DISTINCT (hashtextextended(n, 0) & 1023)::int AS b FROM unnest($1::text[]) AS n ORDER BY 1) AS locks`
	lockRecord = `SELECT pg_advisory_xact_lock(1212501553, (hashtextextended($1, 0) & 1023)::int)`
)

func lockName(provider, key string) string { return "heimdall_enrich:" + provider + "/" + key }

// queueEnqueue queues the creation of a job for c unless a result stands
// (ignored when forced) or a job is open; the row says which.
func queueEnqueue(b *pgx.Batch, c enrich.Candidate, now time.Time) {
	id := events.DeterministicID(now, "enrichment.job", c.Provider, c.Subject.Key, c.Cause.String()).String()
	b.Queue(`WITH fresh AS (
			SELECT 1 FROM heimdall_enrich.results WHERE NOT $9 AND provider = $2 AND record_key = $3 AND expires_at > $8
		), ins AS (
			INSERT INTO heimdall_enrich.jobs
				(id, provider, record_key, kind, value, classification, requested_at, created_at, force, not_before, traceparent)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $10 WHERE NOT EXISTS (SELECT 1 FROM fresh)
			ON CONFLICT DO NOTHING RETURNING 1
		)
		SELECT EXISTS (SELECT 1 FROM fresh), EXISTS (SELECT 1 FROM ins)`,
		id, c.Provider, c.Subject.Key, c.Subject.Kind, c.Subject.Value, c.Classification, c.RequestedAt, now, c.Force, c.TraceParent)
}

const (
	deleteJob    = `DELETE FROM heimdall_enrich.jobs WHERE id = $1`
	upsertResult = `INSERT INTO heimdall_enrich.results
			(provider, record_key, job_id, event_id, outcome, error_class, completed_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (provider, record_key) DO UPDATE SET
			job_id = EXCLUDED.job_id, event_id = EXCLUDED.event_id, outcome = EXCLUDED.outcome,
			error_class = EXCLUDED.error_class, completed_at = EXCLUDED.completed_at, expires_at = EXCLUDED.expires_at
		WHERE (EXCLUDED.completed_at, EXCLUDED.event_id) > (heimdall_enrich.results.completed_at, heimdall_enrich.results.event_id)`
)

// queueComplete queues storing a result (the latest per record and
// provider wins) and removing its job.
func queueComplete(b *pgx.Batch, c enrich.Completion) {
	b.Queue(deleteJob, c.JobID)
	b.Queue(upsertResult, c.Provider, c.RecordKey, c.JobID, c.EventID, c.Outcome, c.ErrorClass, c.CompletedAt, c.ExpiresAt)
}

// Claim implements enrich.Store.
func (s *Store) Claim(ctx context.Context, provider, owner string, n int, now time.Time, lease time.Duration) ([]enrich.Job, error) {
	rows, err := s.pool.Query(ctx, `UPDATE heimdall_enrich.jobs j SET state = 'in_flight', claims = claims + 1,
			owner = $2, claimed_at = $4, lease_until = $5
		WHERE id IN (SELECT id FROM heimdall_enrich.jobs
			WHERE provider = $1 AND state = 'pending' AND not_before <= $4
			ORDER BY not_before, id LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING id, provider, record_key, kind, value, classification, requested_at, claims, deferrals, traceparent`,
		provider, owner, n, now, now.Add(lease))
	if err != nil {
		return nil, fmt.Errorf("claiming enrichment jobs: %w", err)
	}
	var out []enrich.Job
	var j enrich.Job
	_, err = pgx.ForEachRow(rows, []any{&j.ID, &j.Provider, &j.Subject.Key, &j.Subject.Kind, &j.Subject.Value,
		&j.Classification, &j.RequestedAt, &j.Claims, &j.Deferrals, &j.TraceParent}, func() error {
		j.RequestedAt = j.RequestedAt.UTC()
		out = append(out, j)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claiming enrichment jobs: %w", err)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out, nil
}

// Complete implements enrich.Store.
func (s *Store) Complete(ctx context.Context, jobID string, c enrich.Completion) error {
	c.JobID = jobID
	// Not waiting for the flush is safe: the result is in the log, and the
	// worker's consumer completes the job from there if this commit is lost.
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		b.Queue("SET LOCAL synchronous_commit = off")
		b.Queue(lockRecord, lockName(c.Provider, c.RecordKey))
		queueComplete(&b, c)
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return fmt.Errorf("completing an enrichment job: %w", err)
	}
	return nil
}

// Release implements enrich.Store.
func (s *Store) Release(ctx context.Context, jobID string, notBefore time.Time, deferred bool) error {
	d := 0
	if deferred {
		d = 1
	}
	if _, err := s.pool.Exec(ctx, `UPDATE heimdall_enrich.jobs SET state = 'pending', not_before = $2, deferrals = deferrals + $3,
			owner = NULL, lease_until = NULL WHERE id = $1 AND state = 'in_flight'`, jobID, notBefore, d); err != nil {
		return fmt.Errorf("releasing an enrichment job: %w", err)
	}
	return nil
}

// Pending implements enrich.Store.
func (s *Store) Pending(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT provider, count(*) FROM heimdall_enrich.jobs WHERE state = 'pending' GROUP BY provider`)
	if err != nil {
		return nil, fmt.Errorf("counting enrichment jobs: %w", err)
	}
	out := map[string]int64{}
	var p string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&p, &n}, func() error { out[p] = n; return nil }); err != nil {
		return nil, fmt.Errorf("counting enrichment jobs: %w", err)
	}
	return out, nil
}

// Recover implements enrich.Store.
func (s *Store) Recover(ctx context.Context, owner string, claimedBefore, leaseBefore time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE heimdall_enrich.jobs SET state = 'pending', owner = NULL, lease_until = NULL
		WHERE state = 'in_flight' AND ((owner = $1 AND claimed_at < $2) OR lease_until < $3)`, owner, claimedBefore, leaseBefore)
	if err != nil {
		return 0, fmt.Errorf("recovering enrichment jobs: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ProviderStatus is the state of one provider's jobs and results.
type ProviderStatus struct {
	Provider      string           `json:"provider"`
	Pending       int64            `json:"pending"`
	InFlight      int64            `json:"in_flight"`
	Deferred      int64            `json:"deferred"` // pending jobs that waited for an open breaker
	Results       int64            `json:"results"`
	Standing      int64            `json:"standing"` // results not expired
	Outcomes      map[string]int64 `json:"outcomes"`
	ErrorClasses  map[string]int64 `json:"error_classes,omitempty"`
	LastCompleted *time.Time       `json:"last_completed,omitempty"`
	OldestPending *time.Time       `json:"oldest_pending,omitempty"`
}

// Status returns the state of every provider with jobs or results.
func (s *Store) Status(ctx context.Context, now time.Time) ([]ProviderStatus, error) {
	by := map[string]*ProviderStatus{}
	get := func(p string) *ProviderStatus {
		if by[p] == nil {
			by[p] = &ProviderStatus{Provider: p, Outcomes: map[string]int64{}, ErrorClasses: map[string]int64{}}
		}
		return by[p]
	}
	rows, err := s.pool.Query(ctx, `SELECT provider, state, count(*), count(*) FILTER (WHERE deferrals > 0), min(requested_at)
		FROM heimdall_enrich.jobs GROUP BY provider, state`)
	if err != nil {
		return nil, fmt.Errorf("reading enrichment status: %w", err)
	}
	var p, state string
	var n, d int64
	var oldest time.Time
	if _, err := pgx.ForEachRow(rows, []any{&p, &state, &n, &d, &oldest}, func() error {
		ps := get(p)
		if state == "pending" {
			ps.Pending, ps.Deferred = n, d
			o := oldest.UTC()
			ps.OldestPending = &o
		} else {
			ps.InFlight = n
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading enrichment status: %w", err)
	}
	rows, err = s.pool.Query(ctx, `SELECT provider, outcome, error_class, count(*), count(*) FILTER (WHERE expires_at > $1), max(completed_at)
		FROM heimdall_enrich.results GROUP BY provider, outcome, error_class`, now)
	if err != nil {
		return nil, fmt.Errorf("reading enrichment status: %w", err)
	}
	var outcome, class string
	var standing int64
	var last time.Time
	if _, err := pgx.ForEachRow(rows, []any{&p, &outcome, &class, &n, &standing, &last}, func() error {
		ps := get(p)
		ps.Results += n
		ps.Standing += standing
		ps.Outcomes[outcome] += n
		if class != "" {
			ps.ErrorClasses[class] += n
		}
		if l := last.UTC(); ps.LastCompleted == nil || l.After(*ps.LastCompleted) {
			ps.LastCompleted = &l
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading enrichment status: %w", err)
	}
	out := make([]ProviderStatus, 0, len(by))
	for _, ps := range by {
		out = append(out, *ps)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Provider < out[j].Provider })
	return out, nil
}

// Result is the latest result of a provider about a record, as the worker
// knows it.
type Result struct {
	Provider    string    `json:"provider"`
	JobID       string    `json:"job_id"`
	EventID     uuid.UUID `json:"event_id"`
	Outcome     string    `json:"outcome"`
	ErrorClass  string    `json:"error_class,omitempty"`
	CompletedAt time.Time `json:"completed_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}
