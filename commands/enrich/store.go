package enrich

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/heimdallhub/heimdall/events"
)

// Candidate is one (record, provider) pair a log record asks to enrich.
type Candidate struct {
	Provider       string
	Subject        events.Endpoint
	Classification string
	RequestedAt    time.Time
	Force          bool      // ignore a fresh result (an enrichment.requested event)
	Cause          uuid.UUID // the event that caused it
	TraceParent    string    // W3C trace context of the record that caused it
}

// Completion is a result of a provider about a record, from the log or just
// appended.
type Completion struct {
	Provider    string
	RecordKey   string
	JobID       string
	EventID     uuid.UUID
	Outcome     string // events.EnrichmentOK, EnrichmentNotFound or EnrichmentFailed
	ErrorClass  string
	CompletedAt time.Time
	ExpiresAt   time.Time
}

// Item is what one log record contributes to a Batch.
type Item struct {
	Partition   int32
	Offset      int64
	Candidates  []Candidate
	Completions []Completion
}

// Batch is one consumed batch of one topic.
type Batch struct {
	Topic string
	Items []Item
	Next  map[int32]int64 // next offset per partition after the batch
}

// ApplyStats counts what Apply did, per provider.
type ApplyStats struct {
	Enqueued  map[string]int // new jobs
	Fresh     map[string]int // candidates skipped: a result stands (cache hits)
	Coalesced map[string]int // candidates skipped: a job is already open
	Completed int            // completions stored
	Replayed  int            // items below the stored offsets, skipped
}

// Job is one open job as claimed by a dispatcher.
type Job struct {
	ID             string
	Provider       string
	Subject        events.Endpoint
	Classification string
	RequestedAt    time.Time
	Claims         int    // times claimed, this one included
	Deferrals      int    // times put back while the provider's breaker was open
	TraceParent    string // W3C trace context of the record that caused it
}

// Store is the worker's durable state: consumer offsets, the job table (the
// backlog) and the latest result per record and provider. internal/enrichstore
// implements it with PostgreSQL.
type Store interface {
	// Offsets returns the stored next offset of each given partition.
	Offsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error)
	// Apply stores a batch in one transaction: it locks the partitions'
	// offsets, skips items below them, stores completions (removing their
	// jobs, keeping the latest result per record and provider), creates a
	// job per candidate unless a result stands at now (ignored when Force)
	// or a job is open, and stores the next offsets.
	Apply(ctx context.Context, b Batch, now time.Time) (ApplyStats, error)
	// Claim marks up to n pending jobs of provider whose not-before time has
	// come as in flight for owner until now+lease, and returns them.
	Claim(ctx context.Context, provider, owner string, n int, now time.Time, lease time.Duration) ([]Job, error)
	// Complete removes a job and stores its result.
	Complete(ctx context.Context, jobID string, c Completion) error
	// Release puts an in-flight job back to pending, not before notBefore;
	// deferred counts it as a deferral.
	Release(ctx context.Context, jobID string, notBefore time.Time, deferred bool) error
	// Pending returns the number of pending (not in-flight) jobs per provider.
	Pending(ctx context.Context) (map[string]int64, error)
	// Recover puts back to pending the in-flight jobs of owner claimed before
	// claimedBefore, and any job whose lease ended before leaseBefore. It
	// returns how many.
	Recover(ctx context.Context, owner string, claimedBefore, leaseBefore time.Time) (int64, error)
}

// Log appends records; done is called with nil once acknowledged.
type Log interface {
	Append(ctx context.Context, topic string, key, value []byte, headers map[string]string, done func(error))
}

// Encoder encodes events.
type Encoder interface {
	Encode(events.Event) ([]byte, error)
}

// EndOffsets returns the end (high watermark) offset of every partition of
// a topic.
type EndOffsets func(ctx context.Context, topic string) (map[int32]int64, error)
