package resilient

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

// switchable answers 500 while failing is set, else normally.
func switchable(failing *atomic.Bool) behaviour {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if failing.Load() {
			status(http.StatusInternalServerError)(w, r, n)
			return
		}
		answer(w, r, n)
	}
}

// TestBreakerOpensHalfOpensCloses proves the breaker's cycle against a
// real server: N consecutive 500s open it; while open calls fail fast with
// ClassBreakerOpen and a RetryAfter without reaching the server; after
// BreakerOpenFor it half-opens, a failed probe opens it again, a good one
// closes it. The state gauge and transition counters follow.
func TestBreakerOpensHalfOpensCloses(t *testing.T) {
	const openFor = 500 * time.Millisecond
	var failing atomic.Bool
	failing.Store(true)
	pol := fast()
	pol.BreakerFailures, pol.BreakerOpenFor = 3, openFor
	h := newHarness(t, switchable(&failing), pol)
	ctx := testCtx(t)
	state := func(want string, gauge float64) {
		t.Helper()
		if got := h.p.BreakerState(); got != want {
			t.Fatalf("breaker state = %s, want %s", got, want)
		}
		if got := h.metric(t, "heimdall_enrich_provider_breaker_state"); got != gauge {
			t.Fatalf("breaker state gauge = %v, want %v", got, gauge)
		}
	}

	state("closed", 0)
	for i := range 3 {
		if _, err := lookup(ctx, h.p); class(t, err) != enrichment.ClassUnavailable {
			t.Fatalf("call %d against a failing server: %v, want unavailable", i+1, err)
		}
	}
	state("open", 2)
	opened := time.Now()

	for i := range 5 {
		start := time.Now()
		_, err := lookup(ctx, h.p)
		if class(t, err) != enrichment.ClassBreakerOpen {
			t.Fatalf("call %d with the breaker open: %v, want breaker_open", i+1, err)
		}
		if took := time.Since(start); took > 250*time.Millisecond {
			t.Errorf("a call refused by the open breaker took %s", took)
		}
		if ra := enrichment.RetryAfter(err); ra <= 0 || ra > openFor {
			t.Errorf("retry after = %s, want the rest of the %s the breaker stays open", ra, openFor)
		}
	}
	if n := h.srv.hits(); n != 3 {
		t.Fatalf("the server saw %d requests, want 3: the open breaker must not call it", n)
	}

	// Half-open: a failed probe opens the breaker again.
	time.Sleep(time.Until(opened.Add(openFor + 50*time.Millisecond)))
	state("half-open", 1)
	if _, err := lookup(ctx, h.p); class(t, err) != enrichment.ClassUnavailable {
		t.Fatalf("the probe against a failing server: %v, want unavailable", err)
	}
	state("open", 2)
	opened = time.Now()

	// Half-open again, and the server has recovered: the probe closes it.
	failing.Store(false)
	time.Sleep(time.Until(opened.Add(openFor + 50*time.Millisecond)))
	state("half-open", 1)
	if res, err := lookup(ctx, h.p); err != nil || len(res.Attributes) != 1 {
		t.Fatalf("the probe against a recovered server: %+v, %v", res, err)
	}
	state("closed", 0)
	if n := h.srv.hits(); n != 5 {
		t.Errorf("the server saw %d requests, want 5 (3 failures and 2 probes)", n)
	}
	for to, want := range map[string]float64{"open": 2, "half-open": 2, "closed": 1} {
		if got := h.metric(t, "heimdall_enrich_provider_breaker_transitions_total", "to", to); got != want {
			t.Errorf("transitions to %s = %v, want %v", to, got, want)
		}
	}
	if got := h.metric(t, "heimdall_enrich_provider_errors_total", "class", "breaker_open"); got != 5 {
		t.Errorf("breaker_open errors = %v, want 5", got)
	}
}

// TestBreakerStopsRetries proves that a call whose retries open the
// breaker stops there with ClassBreakerOpen instead of retrying on.
func TestBreakerStopsRetries(t *testing.T) {
	pol := fast()
	pol.MaxAttempts, pol.BreakerFailures = 5, 2
	h := newHarness(t, status(http.StatusServiceUnavailable), pol)
	_, err := lookup(testCtx(t), h.p)
	if class(t, err) != enrichment.ClassBreakerOpen {
		t.Fatalf("got %v, want breaker_open", err)
	}
	if n := h.srv.hits(); n != 2 {
		t.Errorf("the server saw %d requests, want 2", n)
	}
}

// TestBreakerIgnoresRejectionsAndRateLimits proves that 4xx, 404 and 429
// answers do not count towards opening the breaker, while 500s do.
func TestBreakerIgnoresRejectionsAndRateLimits(t *testing.T) {
	var next atomic.Value
	next.Store(status(http.StatusBadRequest))
	pol := fast()
	pol.BreakerFailures = 2
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request, n int) { next.Load().(behaviour)(w, r, n) }, pol)
	ctx := testCtx(t)

	for _, c := range []struct {
		b    behaviour
		want enrichment.Class
	}{
		{status(http.StatusBadRequest), enrichment.ClassRejected},
		{status(http.StatusForbidden), enrichment.ClassRejected},
		{status(http.StatusNotFound), ""},
		{status(http.StatusTooManyRequests), enrichment.ClassRateLimited},
	} {
		next.Store(c.b)
		for range 3 {
			if _, err := lookup(ctx, h.p); class(t, err) != c.want {
				t.Fatalf("got %v, want class %q", err, c.want)
			}
		}
		if s := h.p.BreakerState(); s != "closed" {
			t.Fatalf("after three %q answers the breaker is %s, want closed", c.want, s)
		}
	}
	next.Store(status(http.StatusInternalServerError))
	for range 2 {
		_, _ = lookup(ctx, h.p)
	}
	if s := h.p.BreakerState(); s != "open" {
		t.Fatalf("after two 500s the breaker is %s, want open", s)
	}
}
