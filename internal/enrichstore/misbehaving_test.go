package enrichstore

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heimdallhub/heimdall/commands/enrich"
	"github.com/heimdallhub/heimdall/internal/enrichment"
	"github.com/heimdallhub/heimdall/internal/enrichment/enrichtest"
	"github.com/heimdallhub/heimdall/internal/enrichment/httpjson"
	"github.com/heimdallhub/heimdall/internal/enrichment/resilient"
)

// misbehavingAPI is a reputation API over TLS 1.3 that misbehaves on
// purpose, chosen by the address's last octet: 429 with Retry-After, 500s
// (some recover on retry), hangs, malformed JSON, slow answers. It records
// every request's arrival.
type misbehavingAPI struct {
	mu       sync.Mutex
	arrivals []time.Time
	tries    map[string]int
	limited  atomic.Bool
}

func (a *misbehavingAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ip := r.URL.Query().Get("ip")
	a.mu.Lock()
	a.arrivals = append(a.arrivals, time.Now())
	if a.tries == nil {
		a.tries = map[string]int{}
	}
	a.tries[ip]++
	try := a.tries[ip]
	a.mu.Unlock()
	var octet int
	fmt.Sscanf(ip[strings.LastIndexByte(ip, '.')+1:], "%d", &octet)
	switch octet % 10 {
	case 1: // one 429 with Retry-After for the whole run, then fine
		if a.limited.CompareAndSwap(false, true) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
	case 2: // 500 on the first try, then fine
		if try == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
	case 3: // always 500: retries exhausted, a recorded failure
		w.WriteHeader(http.StatusBadGateway)
		return
	case 4: // hangs until the client gives up
		<-r.Context().Done()
		return
	case 5: // malformed JSON: final at once
		fmt.Fprint(w, `{"data": {"score": 4`)
		return
	case 6: // slow
		time.Sleep(150 * time.Millisecond)
	}
	fmt.Fprintf(w, `{"data":{"score":%d}}`, octet)
}

// TestWorkerAgainstMisbehavingProvider: the real worker, store, HTTP JSON
// provider and resilience stack against a provider that misbehaves on
// purpose: the configured rate is never exceeded at the provider, the
// backlog stays bounded, no goroutine is left behind, and every entity ends
// with exactly one result or one recorded failure of the right class.
func TestWorkerAgainstMisbehavingProvider(t *testing.T) {
	// Registered first, so it runs last: after the server, the client's
	// connections and the database pool are closed.
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	ca := enrichtest.NewCA(t)
	api := &misbehavingAPI{}
	srv := ca.Serve(t, api)
	client := ca.Client()
	t.Cleanup(client.CloseIdleConnections)
	raw, err := httpjson.New(httpjson.Config{Name: "rep", Kinds: []string{"ipv4-addr"}, URL: srv.URL + "/check?ip={value}",
		Fields: map[string]string{"score": "data.score"}, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	const ratePerSec, burst = 40.0, 4
	rp, err := resilient.Wrap(enrichment.Counted(raw), resilient.Policy{Rate: ratePerSec, Burst: burst, Concurrency: 6,
		Timeout: 300 * time.Millisecond, MaxAttempts: 3, MaxElapsed: 5 * time.Second, InitialBackoff: 20 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond, BreakerFailures: 1000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	const n, maxBacklog, batch = 120, 20, 10
	for i := range n {
		f.observe(ipOf(i))
	}
	w := f.worker("w1", enrich.Options{MaxBacklog: maxBacklog}, enrich.ProviderSpec{Provider: rp, Concurrency: 6, NegativeTTL: time.Hour})
	var peak atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for ctx.Err() == nil {
			if p, err := f.store.Pending(ctx); err == nil && p["rep"] > peak.Load() {
				peak.Store(p["rep"])
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	stop := f.run(w, batch)
	res := f.waitResults(n, 2*time.Minute)
	// The last results are in the log; their completions reach the store
	// right after (or when the worker reads its own results back).
	st := f.waitSettled(30 * time.Second)
	stop()
	cancel()
	<-sampled

	// Exactly one result per entity, with the class its behaviour earns.
	for i := range n {
		ip := ipOf(i)
		if res["rep/"+ip.Key] != 1 {
			t.Errorf("%s: %d results", ip.Value, res["rep/"+ip.Key])
		}
	}
	want := map[string]int64{"unavailable": n / 10, "timeout": n / 10, "bad_response": n / 10}
	for class, c := range want {
		if st[0].ErrorClasses[class] != c {
			t.Errorf("failures of class %s: %d, want %d (%+v)", class, st[0].ErrorClasses[class], c, st[0])
		}
	}
	if st[0].Outcomes["ok"] != n-3*n/10 || st[0].Pending != 0 || st[0].InFlight != 0 {
		t.Errorf("status %+v", st[0])
	}
	// The rate at the provider: no 1 s window of arrivals holds more than
	// the bucket allows. Tokens are taken when a request leaves; arrivals
	// at the server add scheduling and TLS jitter (on 2 cores, under -race),
	// so the bound allows 100 ms of it: rate × 1.1 s + burst. The strict
	// token-level proof is resilient's TestRateNeverExceeded.
	api.mu.Lock()
	arrivals := append([]time.Time(nil), api.arrivals...)
	api.mu.Unlock()
	for i := range arrivals {
		j := i
		for j < len(arrivals) && arrivals[j].Sub(arrivals[i]) < time.Second {
			j++
		}
		if j-i > int(ratePerSec*1.1)+burst {
			t.Fatalf("%d requests within one second from arrival %d (rate %v, burst %d)", j-i, i, ratePerSec, burst)
		}
	}
	if p := peak.Load(); p > maxBacklog+batch {
		t.Errorf("peak backlog %d, bound %d (+ one batch of %d)", p, maxBacklog, batch)
	}
	t.Logf("%d requests for %d entities, peak backlog %d", len(arrivals), n, peak.Load())
}
