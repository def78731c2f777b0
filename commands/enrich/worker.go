package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/heimdallhub/heimdall/commands/appendlog"
	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/enrichment"
)

// ProviderSpec configures one provider of a Worker.
type ProviderSpec struct {
	// Provider is called for each job, normally wrapped with the resilience
	// stack (package resilient) around enrichment.Counted(raw).
	Provider enrichment.Provider
	// TTL is how long an answer stands (default 24h); NegativeTTL how long a
	// not-found answer or a failure does (default 1h).
	TTL, NegativeTTL time.Duration
	// Concurrency bounds the jobs of this provider in flight in this worker
	// (default 4).
	Concurrency int
	// MaxDeferrals bounds how often a job waits for an open breaker before
	// it is recorded as failed (default 20).
	MaxDeferrals int
}

type providerSpec struct {
	name             string
	provider         enrichment.Provider
	ttl, negativeTTL time.Duration
	concurrency      int
	maxDeferrals     int
	wake             chan struct{}
	inFlight         atomic.Int64
}

// Options configure a Worker.
type Options struct {
	PeerID      string
	EventsTopic string
	// Owner identifies this worker instance in the job table; stable across
	// restarts of one instance, so a restart recovers its own jobs at once.
	Owner string
	// Actor is who results are attributed to (default subject
	// "enrichment-worker", issuer "heimdall:<peer>").
	Actor events.Actor
	// MaxBacklog bounds pending jobs: the consumer waits while the backlog
	// is at the bound (default 10000).
	MaxBacklog int
	// Lease is how long a claimed job is reserved (default 5m); it must
	// exceed the longest call with its retries.
	Lease time.Duration
	// MaxClaims bounds how often one job is claimed (crashes while calling
	// it) before it is recorded as failed without calling (default 5).
	MaxClaims int
	// PollInterval is how often an idle dispatcher looks for jobs (default 250ms).
	PollInterval time.Duration
	// RecoverEvery is how often in-flight jobs with ended leases are looked
	// for (default 1m).
	RecoverEvery  time.Duration
	AppendTimeout time.Duration // default 30s
	// Scrub removes personal data from free text (attribute values,
	// reasons). Default: keep nothing (every value dropped).
	Scrub         func(string) string
	PolicyVersion string
	Clock         *events.Clock
	Metrics       *Metrics
	Logger        *slog.Logger
	// Tracer records a span per job, a child of the trace of the record
	// that caused it; the appended result carries it on (traceparent).
	Tracer trace.Tracer
}

// Worker is the enrichment worker. It implements the Kafka consumer
// adapter's handler (Offsets and Handle); Run runs its dispatchers.
type Worker struct {
	store   Store
	log     Log
	enc     Encoder
	codec   *events.Codec
	ends    EndOffsets
	opts    Options
	specs   []*providerSpec
	byName  map[string]*providerSpec
	idx     kindsIndex
	started time.Time
	now     func() time.Time

	mu      sync.Mutex
	backlog int64
	counts  Stats
}

var traceContext = propagation.TraceContext{}

// ErrConfig reports an incomplete worker configuration.
var ErrConfig = errors.New("enrichment worker configuration")

// New returns a worker. ends is used to recover jobs left in flight.
func New(store Store, log Log, codec *events.Codec, ends EndOffsets, providers []ProviderSpec, o Options) (*Worker, error) {
	var errs []error
	if store == nil || log == nil || codec == nil || ends == nil {
		errs = append(errs, errors.New("store, log, codec and end offsets are required"))
	}
	if o.PeerID == "" || o.EventsTopic == "" || o.Owner == "" {
		errs = append(errs, errors.New("peer id, events topic and owner are required"))
	}
	w := &Worker{store: store, log: log, enc: codec, codec: codec, ends: ends, byName: map[string]*providerSpec{}, idx: kindsIndex{}, now: time.Now}
	for i, p := range providers {
		if p.Provider == nil {
			errs = append(errs, fmt.Errorf("provider %d: no provider", i))
			continue
		}
		name := p.Provider.Name()
		if name == "" || w.byName[name] != nil {
			errs = append(errs, fmt.Errorf("provider %d: name %q is empty or not unique", i, name))
			continue
		}
		s := &providerSpec{name: name, provider: p.Provider, ttl: p.TTL, negativeTTL: p.NegativeTTL,
			concurrency: p.Concurrency, maxDeferrals: p.MaxDeferrals, wake: make(chan struct{}, 1)}
		if s.ttl <= 0 {
			s.ttl = 24 * time.Hour
		}
		if s.negativeTTL <= 0 {
			s.negativeTTL = time.Hour
		}
		if s.concurrency <= 0 {
			s.concurrency = 4
		}
		if s.maxDeferrals <= 0 {
			s.maxDeferrals = 20
		}
		w.specs = append(w.specs, s)
		w.byName[name] = s
		for _, k := range p.Provider.Kinds() {
			w.idx[k] = append(w.idx[k], name)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if o.Actor.Subject == "" {
		o.Actor = events.Actor{Subject: "enrichment-worker", Issuer: "heimdall:" + o.PeerID}
	}
	if o.MaxBacklog <= 0 {
		o.MaxBacklog = 10000
	}
	if o.Lease <= 0 {
		o.Lease = 5 * time.Minute
	}
	if o.MaxClaims <= 0 {
		o.MaxClaims = 5
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 250 * time.Millisecond
	}
	if o.RecoverEvery <= 0 {
		o.RecoverEvery = time.Minute
	}
	if o.AppendTimeout <= 0 {
		o.AppendTimeout = 30 * time.Second
	}
	if o.Scrub == nil {
		o.Scrub = func(string) string { return "" }
	}
	if o.Clock == nil {
		o.Clock = events.NewClock(time.Now)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Tracer == nil {
		o.Tracer = noop.NewTracerProvider().Tracer("")
	}
	w.opts = o
	w.started = w.now()
	o.Metrics.init(w.Providers())
	return w, nil
}

// Providers returns the configured provider names.
func (w *Worker) Providers() []string {
	out := make([]string, 0, len(w.specs))
	for _, s := range w.specs {
		out = append(out, s.name)
	}
	return out
}

// Offsets implements the consumer handler.
func (w *Worker) Offsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error) {
	return w.store.Offsets(ctx, topic, partitions)
}

// Handle implements the consumer handler: it turns a batch into jobs and
// completions and stores them with the batch's offsets, waiting first while
// the backlog is at its bound.
func (w *Worker) Handle(ctx context.Context, records []events.LogRecord) error {
	if len(records) == 0 {
		return nil
	}
	b := Batch{Topic: records[0].Topic, Next: map[int32]int64{}}
	seen, pub := map[[2]string]bool{}, map[string]bool{}
	var candidates, undecodable int
	for _, r := range records {
		if r.Offset+1 > b.Next[r.Partition] {
			b.Next[r.Partition] = r.Offset + 1
		}
		if len(r.Value) == 0 {
			continue
		}
		e, err := w.codec.Decode(r.Value)
		if err != nil {
			undecodable++
			continue
		}
		cs, comp := planRecord(w.idx, e, seen, pub)
		for i := range cs {
			cs[i].TraceParent = r.Headers["traceparent"]
		}
		if len(cs) == 0 && comp == nil {
			continue
		}
		it := Item{Partition: r.Partition, Offset: r.Offset, Candidates: cs}
		if comp != nil {
			it.Completions = []Completion{*comp}
		}
		candidates += len(cs)
		b.Items = append(b.Items, it)
	}
	if candidates > 0 {
		if err := w.waitBacklog(ctx); err != nil {
			return err
		}
	}
	st, err := w.store.Apply(ctx, b, w.now())
	if err != nil {
		return fmt.Errorf("storing enrichment jobs: %w", err)
	}
	w.opts.Metrics.applied(st, undecodable)
	w.mu.Lock()
	w.counts.Undecodable += int64(undecodable)
	w.counts.Replayed += int64(st.Replayed)
	for p, n := range st.Enqueued {
		w.counts.Enqueued += int64(n)
		if s := w.byName[p]; s != nil {
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
	}
	for _, n := range st.Fresh {
		w.counts.CacheHits += int64(n)
	}
	w.mu.Unlock()
	return nil
}

// waitBacklog blocks while the pending backlog is at MaxBacklog.
func (w *Worker) waitBacklog(ctx context.Context) error {
	for {
		pending, err := w.store.Pending(ctx)
		if err != nil {
			return fmt.Errorf("reading the enrichment backlog: %w", err)
		}
		var total int64
		for _, n := range pending {
			total += n
		}
		w.opts.Metrics.backlog(pending, w.Providers())
		w.mu.Lock()
		w.backlog = total
		w.mu.Unlock()
		if total < int64(w.opts.MaxBacklog) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(w.opts.PollInterval):
		}
	}
}

// Stats counts what the worker did since it started.
type Stats struct {
	Enqueued    int64 // jobs created
	CacheHits   int64 // candidates with a result standing
	Replayed    int64 // records below the stored offsets
	Undecodable int64 // records that do not decode, skipped
	Results     int64 // results appended (any outcome)
	Failed      int64 // of which failed
	Deferred    int64 // jobs put back while a breaker was open
	Recovered   int64 // in-flight jobs put back by recovery
	Backlog     int64 // pending jobs at the last check
}

// Stats returns the worker's counters.
func (w *Worker) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.counts
	s.Backlog = w.backlog
	return s
}

// Run runs a dispatcher per provider and the recovery of jobs left in
// flight, until ctx is done. Jobs being called when ctx ends are put back.
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, s := range w.specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.dispatch(ctx, s)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.recoverLoop(ctx)
	}()
	wg.Wait()
	return nil
}

// dispatch claims and runs the jobs of one provider, at most concurrency
// at a time.
func (w *Worker) dispatch(ctx context.Context, s *providerSpec) {
	slots := make(chan struct{}, s.concurrency)
	freed := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	// Claim in batches: wait until half the slots are free (or none is
	// busy), so one claim query serves several jobs.
	threshold := max(1, s.concurrency/2)
	for ctx.Err() == nil {
		free := s.concurrency - len(slots)
		if free < threshold {
			select {
			case <-ctx.Done():
				return
			case <-freed:
			}
			continue
		}
		jobs, err := w.store.Claim(ctx, s.name, w.opts.Owner, free, w.now(), w.opts.Lease)
		if err != nil && ctx.Err() == nil {
			w.opts.Logger.Warn("claiming enrichment jobs", "provider", s.name, "err", err)
		}
		if len(jobs) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			case <-freed:
			case <-time.After(w.opts.PollInterval):
			}
			continue
		}
		for _, j := range jobs {
			slots <- struct{}{}
			wg.Add(1)
			s.inFlight.Add(1)
			go func() {
				defer func() {
					<-slots
					s.inFlight.Add(-1)
					select {
					case freed <- struct{}{}:
					default:
					}
					wg.Done()
				}()
				w.process(ctx, s, j)
			}()
		}
	}
}

// process runs one claimed job to a recorded result, a deferral, or (on
// shutdown) back to pending.
func (w *Worker) process(ctx context.Context, s *providerSpec, job Job) {
	log := w.opts.Logger.With("provider", s.name, "job", job.ID)
	if sc := trace.SpanContextFromContext(traceContext.Extract(ctx, propagation.MapCarrier{"traceparent": job.TraceParent})); sc.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	ctx, span := w.opts.Tracer.Start(ctx, "enrich "+s.name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("heimdall.provider", s.name), attribute.String("heimdall.provider_type", s.provider.Type()),
			attribute.String("heimdall.job_id", job.ID), attribute.Int("heimdall.claims", job.Claims)))
	defer span.End()
	var (
		res      enrichment.Result
		err      error
		attempts atomic.Int32
	)
	if job.Claims > w.opts.MaxClaims {
		err = enrichment.Errorf(enrichment.ClassUnavailable, "the job was claimed %d times without finishing", job.Claims-1)
	} else {
		res, err = s.provider.Enrich(enrichment.WithAttemptCounter(ctx, &attempts),
			enrichment.Request{Key: job.Subject.Key, Kind: job.Subject.Kind, Value: job.Subject.Value})
	}
	if ctx.Err() != nil {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if rerr := w.store.Release(rctx, job.ID, w.now(), false); rerr != nil {
			log.Warn("putting an enrichment job back on shutdown", "err", rerr)
		}
		return
	}
	if enrichment.Classify(err) == enrichment.ClassBreakerOpen && job.Deferrals < s.maxDeferrals {
		wait := max(enrichment.RetryAfter(err), time.Second)
		if rerr := w.store.Release(ctx, job.ID, w.now().Add(wait), true); rerr != nil {
			log.Warn("deferring an enrichment job", "err", rerr)
		}
		w.mu.Lock()
		w.counts.Deferred++
		w.mu.Unlock()
		w.opts.Metrics.deferred(s.name)
		return
	}
	completed := w.now()
	p := payload(s, job, res, err, attempts.Load(), completed, w.opts.Scrub)
	span.SetAttributes(attribute.String("heimdall.outcome", p.Outcome), attribute.String("heimdall.error_class", p.ErrorClass),
		attribute.Int("heimdall.attempts", int(p.Attempts)))
	headers := map[string]string{"heimdall.request_id": job.ID}
	traceContext.Inject(ctx, propagation.MapCarrier(headers))
	e := w.envelope(s, job)
	e.ID = events.DeterministicID(job.RequestedAt, "enrichment.recorded", job.ID)
	e.Key = job.Subject.Key
	e.Payload = p
	if err := appendlog.All(ctx, w.log, w.enc, w.opts.AppendTimeout, headers,
		appendlog.Record{Topic: w.opts.EventsTopic, Event: e}); err != nil {
		// The result may or may not be in the log: the job stays in flight
		// and recovery decides once the consumer has read past it.
		log.Warn("appending an enrichment result", "err", err)
		return
	}
	comp := Completion{Provider: s.name, RecordKey: e.Key, JobID: job.ID, EventID: e.ID, Outcome: p.Outcome,
		ErrorClass: p.ErrorClass, CompletedAt: p.CompletedAt, ExpiresAt: p.ExpiresAt()}
	if err := w.store.Complete(ctx, job.ID, comp); err != nil && ctx.Err() == nil {
		log.Warn("completing an enrichment job (the consumer completes it from the log)", "err", err)
	}
	w.mu.Lock()
	w.counts.Results++
	if p.Outcome == events.EnrichmentFailed {
		w.counts.Failed++
	}
	w.mu.Unlock()
	w.opts.Metrics.result(s.name, p.Outcome, p.ErrorClass, completed.Sub(job.RequestedAt))
}

func (w *Worker) envelope(s *providerSpec, job Job) events.Event {
	hlc := w.opts.Clock.Now()
	cls := job.Classification
	return events.Event{
		OriginPeer: w.opts.PeerID, Vector: events.VersionVector{w.opts.PeerID: int64(hlc)}, HLC: hlc,
		Actor: w.opts.Actor, RequestID: job.ID, BatchID: "enrichment:" + job.ID, RecordedAt: hlc.Time(),
		Provenance:     events.Provenance{Source: "enrichment/" + s.name, Format: s.provider.Type()},
		Classification: cls, PolicyVersion: w.opts.PolicyVersion,
	}
}

// recoverLoop puts jobs left in flight back to pending, but only once the
// consumer has read the log up to the end offsets taken before: a job whose
// result did reach the log is completed by the consumer first.
func (w *Worker) recoverLoop(ctx context.Context) {
	first := true
	for {
		taken := w.now()
		if err := w.caughtUp(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			w.opts.Logger.Warn("waiting for the enrichment consumer before recovery", "err", err)
		} else {
			claimedBefore := time.Time{}
			if first {
				claimedBefore = w.started
			}
			n, err := w.store.Recover(ctx, w.opts.Owner, claimedBefore, taken)
			if err != nil && ctx.Err() == nil {
				w.opts.Logger.Warn("recovering enrichment jobs", "err", err)
			} else {
				first = false
				if n > 0 {
					w.opts.Logger.Info("enrichment jobs recovered", "jobs", n)
					w.mu.Lock()
					w.counts.Recovered += n
					w.mu.Unlock()
					w.opts.Metrics.recovered(n)
					for _, s := range w.specs {
						select {
						case s.wake <- struct{}{}:
						default:
						}
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(w.opts.RecoverEvery):
		}
	}
}

// caughtUp waits until the stored offsets reach the topic's end offsets as
// of now.
func (w *Worker) caughtUp(ctx context.Context) error {
	ends, err := w.ends(ctx, w.opts.EventsTopic)
	if err != nil {
		return err
	}
	parts := make([]int32, 0, len(ends))
	for p, end := range ends {
		if end > 0 {
			parts = append(parts, p)
		}
	}
	slices.Sort(parts)
	for {
		if len(parts) == 0 {
			return nil
		}
		stored, err := w.store.Offsets(ctx, w.opts.EventsTopic, parts)
		if err != nil {
			return err
		}
		behind := parts[:0]
		for _, p := range parts {
			if stored[p] < ends[p] {
				behind = append(behind, p)
			}
		}
		parts = behind
		if len(parts) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
