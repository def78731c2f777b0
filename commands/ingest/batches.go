package ingest

import (
	"sync"
	"time"
)

// Batch states.
const (
	StateReceiving  = "receiving"  // an asynchronous upload is being spooled
	StateProcessing = "processing" // records are being read and appended
	StateDone       = "done"       // every record is accounted for
	StateFailed     = "failed"     // the batch failed as a whole (see Error)
)

// BatchStatus is what GET /v1/batches/{id} shows.
type BatchStatus struct {
	BatchID    string     `json:"batch_id"`
	State      string     `json:"state"`
	Async      bool       `json:"async"`
	Source     string     `json:"source"`
	File       string     `json:"file"`
	ActorSub   string     `json:"-"`
	ActorIss   string     `json:"-"`
	RequestID  string     `json:"request_id"`
	Bytes      int64      `json:"bytes_received"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Result     Result     `json:"result"`
	// Error is the problem detail of a failed batch (never input values).
	Error string `json:"error,omitempty"`
}

// Batches tracks the batches this process handles: running ones with live
// counts, and the most recent finished ones. It is in memory: after a
// restart an unfinished batch is re-sent with the same Idempotency-Key
// (event ids are deterministic, so nothing is doubled).
type Batches struct {
	mu       sync.Mutex
	m        map[string]*BatchStatus
	finished []string
	keep     int
	now      func() time.Time
}

// NewBatches keeps up to keep finished batches.
func NewBatches(keep int) *Batches {
	if keep <= 0 {
		keep = 1000
	}
	return &Batches{m: map[string]*BatchStatus{}, keep: keep, now: time.Now}
}

// Begin registers a batch; it reports false when a batch with that id is
// still running here.
func (b *Batches) Begin(s BatchStatus) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cur, ok := b.m[s.BatchID]; ok && cur.FinishedAt == nil {
		return false
	}
	s.StartedAt = b.now().UTC()
	b.m[s.BatchID] = &s
	return true
}

// Update records progress.
func (b *Batches) Update(id, state string, bytes int64, r *Result) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.m[id]
	if !ok {
		return
	}
	if state != "" {
		s.State = state
	}
	if bytes > 0 {
		s.Bytes = bytes
	}
	if r != nil {
		res := *r
		res.Rejects = nil // the running view carries counts only
		s.Result = res
	}
}

// Finish records the outcome.
func (b *Batches) Finish(id string, r Result, errDetail string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.m[id]
	if !ok {
		return
	}
	t := b.now().UTC()
	s.FinishedAt = &t
	s.Result = r
	s.State = StateDone
	if errDetail != "" {
		s.State, s.Error = StateFailed, errDetail
	}
	b.finished = append(b.finished, id)
	for len(b.finished) > b.keep {
		old := b.finished[0]
		b.finished = b.finished[1:]
		if st, ok := b.m[old]; ok && st.FinishedAt != nil {
			delete(b.m, old)
		}
	}
}

// Get returns a copy of a batch's status.
func (b *Batches) Get(id string) (BatchStatus, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.m[id]
	if !ok {
		return BatchStatus{}, false
	}
	return *s, true
}
