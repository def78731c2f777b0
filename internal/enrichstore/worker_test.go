package enrichstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/commands/enrich"
	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/enrichment"
	"github.com/heimdallhub/heimdall/internal/observable"
)

// stubProvider is an in-process provider (the external services and the
// resilience stack are tested in their own packages): it counts calls per
// value and answers after delay; fail decides a failure class per value.
type stubProvider struct {
	name  string
	delay time.Duration
	fail  func(value string) enrichment.Class
	mu    sync.Mutex
	calls map[string]int
}

func (p *stubProvider) Name() string    { return p.name }
func (p *stubProvider) Type() string    { return "http" }
func (p *stubProvider) Kinds() []string { return []string{"ipv4-addr"} }
func (p *stubProvider) Enrich(ctx context.Context, req enrichment.Request) (enrichment.Result, error) {
	p.mu.Lock()
	if p.calls == nil {
		p.calls = map[string]int{}
	}
	p.calls[req.Value]++
	p.mu.Unlock()
	select {
	case <-ctx.Done():
		return enrichment.Result{}, ctx.Err()
	case <-time.After(p.delay):
	}
	if p.fail != nil {
		if c := p.fail(req.Value); c != "" {
			return enrichment.Result{}, &enrichment.Error{Class: c, Reason: "stub failure"}
		}
	}
	return enrichment.Result{Attributes: []enrichment.Attribute{{Name: "seen", Value: "yes"}}}, nil
}

func (p *stubProvider) callsOf(v string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[v]
}

func (p *stubProvider) totalCalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.calls {
		n += c
	}
	return n
}

type fixture struct {
	t     testing.TB
	codec *events.Codec
	log   *memLog
	store *Store
	n     int
	seen  resultCount
}

func newFixture(t testing.TB) *fixture {
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	store, err := New(context.Background(), testPool(t))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, codec: codec, log: &memLog{topic: "ev"}, store: store}
}

func ipOf(i int) events.Endpoint {
	v := fmt.Sprintf("198.51.%d.%d", i/250, i%250+1)
	o, _ := observable.Canonicalize(observable.KindIPv4Addr, v)
	return events.Endpoint{Key: o.Key(), Kind: "ipv4-addr", Value: v}
}

func (f *fixture) appendEvent(key string, p events.Payload) events.Event {
	f.t.Helper()
	f.n++
	at := time.Now().UTC()
	e := events.Event{ID: events.DeterministicID(at, "test", fmt.Sprint(f.n)), Key: key, OriginPeer: "site-a",
		Vector: events.VersionVector{"site-a": int64(f.n)}, HLC: events.MakeHLC(at.UnixMilli(), 0),
		Actor: events.Actor{Subject: "t", Issuer: "i"}, RequestID: "r", BatchID: "b", RecordedAt: at,
		Provenance: events.Provenance{Source: "test", Format: "ndjson"}, Classification: "UNCLASSIFIED", PolicyVersion: "1", Payload: p}
	e.Type = p.EventType()
	b, err := f.codec.Encode(e)
	if err != nil {
		f.t.Fatal(err)
	}
	f.log.Append(context.Background(), "ev", []byte(key), b, nil, func(error) {})
	return e
}

func (f *fixture) observe(ep events.Endpoint) {
	f.appendEvent(ep.Key, events.EntityObserved{Kind: ep.Kind, Value: ep.Value, ObservedAt: time.Now().UTC(), Attributes: []events.Attribute{}})
}

func (f *fixture) worker(owner string, o enrich.Options, ps ...enrich.ProviderSpec) *enrich.Worker {
	f.t.Helper()
	o.PeerID, o.EventsTopic, o.Owner = "site-a", "ev", owner
	o.Scrub = func(s string) string { return s }
	if o.PollInterval == 0 {
		o.PollInterval = 20 * time.Millisecond
	}
	w, err := enrich.New(f.store, f.log, f.codec, f.log.ends, ps, o)
	if err != nil {
		f.t.Fatal(err)
	}
	return w
}

// run runs the worker and its feeder until the returned stop is called.
func (f *fixture) run(w *enrich.Worker, batch int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); f.log.feed(ctx, f.t, w, batch) }()
	go func() { defer wg.Done(); _ = w.Run(ctx) }()
	return func() { cancel(); wg.Wait() }
}

// results counts enrichment.recorded events per provider/key in the log.
func (f *fixture) results() map[string]int {
	f.seen = f.count(f.seen)
	return f.seen.byKey
}

// resultCount keeps the results of the log read so far.
type resultCount struct {
	next  int64
	total int
	byKey map[string]int
}

func (f *fixture) count(c resultCount) resultCount {
	if c.byKey == nil {
		c.byKey = map[string]int{}
	}
	for _, r := range f.log.since(c.next) {
		c.next = r.Offset + 1
		e, err := f.codec.Decode(r.Value)
		if err != nil {
			f.t.Fatal(err)
		}
		if p, ok := e.Payload.(events.EnrichmentRecorded); ok {
			c.byKey[p.Provider+"/"+e.Key]++
			c.total++
		}
	}
	return c
}

func (f *fixture) waitResults(want int, within time.Duration) map[string]int {
	f.t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := f.results()
		n := f.seen.total
		if n >= want {
			return r
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%d results after %v, want %d", n, within, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitSettled waits until the store has one provider with no job pending or
// in flight: every completion the worker appended has also been stored (the
// store learns of it from Complete or, at the latest, from the worker's own
// result read back from the log), and returns that status.
func (f *fixture) waitSettled(within time.Duration) []ProviderStatus {
	f.t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, err := f.store.Status(context.Background(), time.Now())
		if err != nil {
			f.t.Fatal(err)
		}
		if len(st) == 1 && st[0].InFlight == 0 && st[0].Pending == 0 {
			return st
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("store not settled after %v: %+v", within, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWorkerEnrichesEachRecordOncePerTTL: every observed public IP gets
// exactly one result per provider (a success or a recorded failure, poison
// values included), repeats within the TTL are cache hits, personal values
// are never sent, and a request forces one new result.
func TestWorkerEnrichesEachRecordOncePerTTL(t *testing.T) {
	f := newFixture(t)
	geo := &stubProvider{name: "geo"}
	flaky := &stubProvider{name: "flaky", fail: func(v string) enrichment.Class {
		switch v[len(v)-1] {
		case '3':
			return enrichment.ClassBadResponse // poison: final at once
		case '7':
			return enrichment.ClassTimeout // retries exhausted upstream
		}
		return ""
	}}
	const n = 60
	for i := range n {
		f.observe(ipOf(i))
		f.observe(ipOf(i)) // a repeat in the same or the next batch
	}
	personal := events.Endpoint{Key: observable.PersonalKey(observable.KindIPv4Addr, "ps:pk1:zz"), Kind: "ipv4-addr", Value: "ps:pk1:zz"}
	f.observe(personal)
	w := f.worker("w1", enrich.Options{},
		enrich.ProviderSpec{Provider: geo, TTL: time.Hour, Concurrency: 4},
		enrich.ProviderSpec{Provider: flaky, TTL: time.Hour, NegativeTTL: time.Hour, Concurrency: 2})
	stop := f.run(w, 16)
	defer stop()
	res := f.waitResults(2*n, 30*time.Second)
	for i := range n {
		ip := ipOf(i)
		if res["geo/"+ip.Key] != 1 || res["flaky/"+ip.Key] != 1 || geo.callsOf(ip.Value) != 1 || flaky.callsOf(ip.Value) != 1 {
			t.Fatalf("ip %d: results geo %d flaky %d, calls %d %d", i, res["geo/"+ip.Key], res["flaky/"+ip.Key], geo.callsOf(ip.Value), flaky.callsOf(ip.Value))
		}
	}
	if geo.callsOf(personal.Value) != 0 || res["geo/"+personal.Key] != 0 {
		t.Fatal("a personal value was sent to a provider")
	}
	// Observed again within the TTL: cache hits, no calls.
	for i := range n {
		f.observe(ipOf(i))
	}
	deadline := time.Now().Add(10 * time.Second)
	for w.Stats().CacheHits < int64(2*n) {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", w.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A request ignores the TTL, for the provider it names.
	ip := ipOf(5)
	f.appendEvent(ip.Key, events.EnrichmentRequested{Subject: ip, Providers: []string{"geo"}})
	f.waitResults(2*n+1, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	res = f.results()
	if res["geo/"+ip.Key] != 2 || res["flaky/"+ip.Key] != 1 || geo.totalCalls() != n+1 {
		t.Fatalf("after the request: geo %d flaky %d calls %d", res["geo/"+ip.Key], res["flaky/"+ip.Key], geo.totalCalls())
	}
	st, err := f.store.Status(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range st {
		if p.Pending != 0 || p.InFlight != 0 {
			t.Fatalf("open jobs left: %+v", p)
		}
		if p.Provider == "flaky" && (p.ErrorClasses["bad_response"] != 6 || p.ErrorClasses["timeout"] != 6) {
			t.Fatalf("flaky failures %+v", p)
		}
	}
}

// TestWorkerBacklogStaysBounded: with a slow provider the consumer pauses
// while the backlog is at its bound, and everything is still enriched.
func TestWorkerBacklogStaysBounded(t *testing.T) {
	f := newFixture(t)
	slow := &stubProvider{name: "slow", delay: 3 * time.Millisecond}
	const n, maxBacklog, batch = 300, 25, 10
	for i := range n {
		f.observe(ipOf(i))
	}
	w := f.worker("w1", enrich.Options{MaxBacklog: maxBacklog}, enrich.ProviderSpec{Provider: slow, Concurrency: 2})
	var peak atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for ctx.Err() == nil {
			p, err := f.store.Pending(ctx)
			if err == nil && p["slow"] > peak.Load() {
				peak.Store(p["slow"])
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	stop := f.run(w, batch)
	f.waitResults(n, 60*time.Second)
	stop()
	cancel()
	<-sampled
	if p := peak.Load(); p > maxBacklog+batch || p < maxBacklog/2 {
		t.Fatalf("peak backlog %d, bound %d (+ one batch of %d)", p, maxBacklog, batch)
	}
	if slow.totalCalls() != n {
		t.Fatalf("%d calls for %d records", slow.totalCalls(), n)
	}
}

// TestWorkerRecoversJobsLeftInFlight: jobs a crashed worker left in flight
// run again, except the one whose result had already reached the log
// (completed from the log, not called again); another live worker's leased
// job is left alone.
func TestWorkerRecoversJobsLeftInFlight(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p := &stubProvider{name: "geo"}
	for i := range 4 {
		f.observe(ipOf(i))
	}
	// The crashed worker's consumer stored the jobs...
	first := f.worker("w1", enrich.Options{}, enrich.ProviderSpec{Provider: p})
	if err := first.Handle(ctx, f.log.since(0)); err != nil {
		t.Fatal(err)
	}
	// ...its dispatcher claimed three; a live worker w2 holds the fourth.
	mine, err := f.store.Claim(ctx, "geo", "w1", 3, time.Now(), time.Hour)
	if err != nil || len(mine) != 3 {
		t.Fatalf("claimed %d: %v", len(mine), err)
	}
	theirs, err := f.store.Claim(ctx, "geo", "w2", 1, time.Now(), time.Hour)
	if err != nil || len(theirs) != 1 {
		t.Fatalf("claimed %d: %v", len(theirs), err)
	}
	// One result reached the log before the crash.
	done := mine[0]
	f.appendEvent(done.Subject.Key, events.EnrichmentRecorded{Provider: "geo", ProviderType: "http", Subject: done.Subject, JobID: done.ID,
		RequestedAt: done.RequestedAt, CompletedAt: time.Now().UTC(), TTLSeconds: 3600, Outcome: events.EnrichmentOK, Attempts: 1,
		Attributes: []events.Attribute{}, Relations: []events.EnrichmentRelation{}, Vector: []float32{}})
	time.Sleep(5 * time.Millisecond) // claimed_at before the restart
	w := f.worker("w1", enrich.Options{}, enrich.ProviderSpec{Provider: p})
	stop := f.run(w, 100)
	f.waitResults(3, 20*time.Second)
	time.Sleep(300 * time.Millisecond)
	stop()
	res := f.results()
	if p.callsOf(done.Subject.Value) != 0 || res["geo/"+done.Subject.Key] != 1 {
		t.Fatalf("the job whose result was in the log: calls %d results %d", p.callsOf(done.Subject.Value), res["geo/"+done.Subject.Key])
	}
	for _, j := range mine[1:] {
		if p.callsOf(j.Subject.Value) != 1 || res["geo/"+j.Subject.Key] != 1 {
			t.Fatalf("recovered job %s: calls %d results %d", j.Subject.Value, p.callsOf(j.Subject.Value), res["geo/"+j.Subject.Key])
		}
	}
	if p.callsOf(theirs[0].Subject.Value) != 0 {
		t.Fatal("a job leased by a live worker was taken over")
	}
	if w.Stats().Recovered != 2 {
		t.Fatalf("stats %+v", w.Stats())
	}
}

// TestWorkerUnacknowledgedAppend: an append whose acknowledgement fails
// leaves the job in flight; once its lease ends, recovery waits for the
// consumer, which finds the result in the log: the provider is not called
// twice and the record has one result.
func TestWorkerUnacknowledgedAppend(t *testing.T) {
	f := newFixture(t)
	p := &stubProvider{name: "geo"}
	ip := ipOf(9)
	f.observe(ip)
	f.log.fail = true
	w := f.worker("w1", enrich.Options{Lease: 300 * time.Millisecond, RecoverEvery: 100 * time.Millisecond}, enrich.ProviderSpec{Provider: p})
	stop := f.run(w, 10)
	defer stop()
	f.waitResults(1, 10*time.Second)
	f.log.mu.Lock()
	f.log.fail = false
	f.log.mu.Unlock()
	if st := f.waitSettled(10 * time.Second); st[0].Results != 1 {
		t.Fatalf("status %+v", st)
	}
	time.Sleep(500 * time.Millisecond)
	if p.callsOf(ip.Value) != 1 || f.results()["geo/"+ip.Key] != 1 {
		t.Fatalf("calls %d results %d", p.callsOf(ip.Value), f.results()["geo/"+ip.Key])
	}
}
