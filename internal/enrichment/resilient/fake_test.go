package resilient

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/heimdallhub/heimdall/internal/enrichment"
	"github.com/heimdallhub/heimdall/internal/enrichment/enrichtest"
)

// lookedUp is the value the tests look up; no metric label may hold it.
const lookedUp = "203.0.113.7"

// behaviour answers the n-th request (from 1) of a fake server.
type behaviour func(w http.ResponseWriter, r *http.Request, n int)

func answer(w http.ResponseWriter, _ *http.Request, _ int) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"country":"NL"}`)
}

func status(code int) behaviour {
	return func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(code) }
}

func tooMany(retryAfter string) behaviour {
	return func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Retry-After", retryAfter)
		w.WriteHeader(http.StatusTooManyRequests)
	}
}

// quotaSpent answers but says no request remains until the reset.
func quotaSpent(reset string) behaviour {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", reset)
		answer(w, r, n)
	}
}

func hang(_ http.ResponseWriter, r *http.Request, _ int) { <-r.Context().Done() }

func malformed(w http.ResponseWriter, _ *http.Request, _ int) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"country": "NL`)
}

// slow answers after a random 50–200ms.
func slow(w http.ResponseWriter, r *http.Request, n int) {
	d := 50*time.Millisecond + rand.N(150*time.Millisecond)
	select {
	case <-time.After(d):
		answer(w, r, n)
	case <-r.Context().Done():
	}
}

// firstThen answers the first k requests with first, the rest with rest.
func firstThen(k int, first, rest behaviour) behaviour {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if n <= k {
			first(w, r, n)
			return
		}
		rest(w, r, n)
	}
}

// fakeServer is a stand-in JSON lookup service over TLS 1.3 that records
// when each request arrived and how many were in flight.
type fakeServer struct {
	mu          sync.Mutex
	arrivals    []time.Time
	behave      behaviour
	inFlight    atomic.Int32
	maxInFlight atomic.Int32
}

func (s *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/warm" {
		// Held a while, so concurrent warm-ups each open a connection.
		select {
		case <-time.After(100 * time.Millisecond):
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.URL.Path != "/lookup" {
		http.NotFound(w, r)
		return
	}
	now := time.Now()
	cur := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for m := s.maxInFlight.Load(); cur > m && !s.maxInFlight.CompareAndSwap(m, cur); m = s.maxInFlight.Load() {
	}
	s.mu.Lock()
	s.arrivals = append(s.arrivals, now)
	n, b := len(s.arrivals), s.behave
	s.mu.Unlock()
	b(w, r, n)
}

// forget drops the requests seen so far.
func (s *fakeServer) forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.arrivals = nil
}

func (s *fakeServer) hits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.arrivals)
}

func (s *fakeServer) times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.arrivals...)
}

// httpProvider is a plain HTTP JSON provider, as the real ones are: it
// classifies failures and passes on what the service said about pacing.
type httpProvider struct {
	base   string
	client *http.Client
}

func (*httpProvider) Name() string    { return "fake-http" }
func (*httpProvider) Type() string    { return "http" }
func (*httpProvider) Kinds() []string { return []string{"ipv4-addr"} }

func (h *httpProvider) Enrich(ctx context.Context, req enrichment.Request) (enrichment.Result, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/lookup?v="+url.QueryEscape(req.Value), nil)
	if err != nil {
		return enrichment.Result{}, &enrichment.Error{Class: enrichment.ClassRejected, Reason: "the request could not be built", Err: err}
	}
	resp, err := h.client.Do(hreq)
	if err != nil {
		return enrichment.Result{}, &enrichment.Error{Class: enrichment.Classify(err), Reason: "the provider could not be reached", Err: err}
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection is reused
		_ = resp.Body.Close()
	}()
	now := time.Now()
	if e := enrichment.HTTPStatusError(resp, now); e != nil {
		return enrichment.Result{}, e
	}
	pause := enrichment.QuotaPause(resp.Header, now)
	if resp.StatusCode == http.StatusNotFound {
		return enrichment.Result{NotFound: true, Pause: pause}, nil
	}
	var body struct {
		Country string `json:"country"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		if ctx.Err() != nil {
			return enrichment.Result{}, &enrichment.Error{Class: enrichment.Classify(ctx.Err()), Reason: "the answer was not read in time", Err: err}
		}
		return enrichment.Result{}, &enrichment.Error{Class: enrichment.ClassBadResponse, Reason: "the answer is not valid JSON", Err: err}
	}
	return enrichment.Result{Attributes: []enrichment.Attribute{{Name: "country", Value: body.Country}}, Pause: pause}, nil
}

// harness is a fake server, an HTTP provider calling it and the wrapped
// provider with its metrics.
type harness struct {
	srv *fakeServer
	raw *httpProvider
	reg *prometheus.Registry
	m   *Metrics
	p   *Provider
}

func newHarness(t *testing.T, b behaviour, pol Policy) *harness {
	t.Helper()
	ca := enrichtest.NewCA(t)
	fs := &fakeServer{behave: b}
	srv := ca.Serve(t, fs)
	client := ca.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	t.Cleanup(client.CloseIdleConnections) // runs before the server closes
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	raw := &httpProvider{base: srv.URL, client: client}
	p, err := Wrap(raw, pol, m)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{srv: fs, raw: raw, reg: reg, m: m, p: p}
}

// warm opens n connections to the server and runs the call path once
// through a separate wrapper, ahead of a test whose timing a TLS handshake
// or a first run would blur. The server forgets these requests.
func (h *harness) warm(t *testing.T, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, err := h.raw.client.Get(h.raw.base + "/warm")
			if err != nil {
				t.Errorf("warm up: %v", err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		})
	}
	wg.Wait()
	other, err := Wrap(h.raw, fast(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		wg.Go(func() {
			if _, err := lookup(t.Context(), other); err != nil {
				t.Errorf("warm up: %v", err)
			}
		})
	}
	wg.Wait()
	h.srv.forget()
}

// noLeaks checks, when the test and its other cleanups are done, that no
// goroutine it started is left. Call it before newHarness.
func noLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

func lookup(ctx context.Context, p enrichment.Provider) (enrichment.Result, error) {
	return p.Enrich(ctx, enrichment.Request{Key: "ipv4-addr:" + lookedUp, Kind: "ipv4-addr", Value: lookedUp})
}

// class returns err's class, failing the test if err is not an
// *enrichment.Error.
func class(t *testing.T, err error) enrichment.Class {
	t.Helper()
	if err == nil {
		return ""
	}
	e, ok := err.(*enrichment.Error)
	if !ok {
		t.Fatalf("error %v (%T) is not an *enrichment.Error", err, err)
	}
	return e.Class
}

// fast is a policy whose rate limit and backoff do not slow tests down.
func fast() Policy {
	return Policy{Rate: 1000, Burst: 100, Concurrency: 16, Timeout: 2 * time.Second, MaxAttempts: 1,
		MaxElapsed: 10 * time.Second, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		BreakerFailures: 100, BreakerOpenFor: time.Second}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds, failing the test after 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}
