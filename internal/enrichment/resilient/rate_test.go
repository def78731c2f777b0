package resilient

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// maxInWindow returns the most arrivals in any window [a, a+w) (the
// arrivals are in order).
func maxInWindow(arrivals []time.Time, w time.Duration) int {
	most := 0
	for i, a := range arrivals {
		n := 0
		for _, b := range arrivals[i:] {
			if b.Sub(a) >= w {
				break
			}
			n++
		}
		most = max(most, n)
	}
	return most
}

// TestRateNeverExceeded proves the token bucket: whatever the concurrency,
// the server never sees more than Rate*1s+Burst requests in any second,
// and the wrapper does get close to the rate.
func TestRateNeverExceeded(t *testing.T) {
	const (
		perSecond = 20
		burst     = 2
		calls     = 110
		workers   = 16
	)
	pol := fast()
	pol.Rate, pol.Burst, pol.Concurrency = perSecond, burst, 8
	h := newHarness(t, answer, pol)
	h.warm(t, pol.Concurrency)
	ctx := testCtx(t)

	var next, failed atomic.Int32
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= calls {
				if _, err := lookup(ctx, h.p); err != nil {
					t.Errorf("lookup: %v", err)
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if failed.Load() > 0 {
		t.FailNow()
	}
	arrivals := h.srv.times() // recorded in arrival order
	if len(arrivals) != calls {
		t.Fatalf("the server saw %d requests, want %d", len(arrivals), calls)
	}
	limit := perSecond + burst
	if got := maxInWindow(arrivals, time.Second); got > limit {
		t.Errorf("%d requests arrived within one second, the limit is %d", got, limit)
	} else if got < perSecond*8/10 {
		t.Errorf("at most %d requests arrived within one second: the rate %d/s was not approached", got, perSecond)
	}
	// The bucket starts full: burst calls are free, the rest cost 1/rate.
	if least := time.Duration(calls-burst) * time.Second / perSecond; elapsed < least*95/100 {
		t.Errorf("%d calls took %s, at %d/s they take at least %s", calls, elapsed, perSecond, least)
	}
	if w := h.metric(t, "heimdall_enrich_provider_rate_limit_waits_total"); w < calls/2 {
		t.Errorf("rate limit waits = %v, want most of the %d calls to have waited", w, calls)
	}
	t.Logf("%d calls in %s (%.1f/s), at most %d in any second", calls, elapsed, float64(calls)/elapsed.Seconds(), maxInWindow(arrivals, time.Second))
}

// TestRetryAfterPausesEveryone proves that a 429 with Retry-After: 1 stops
// every caller, not just the one that got it, for that second, and that
// the call that got it is retried and succeeds.
func TestRetryAfterPausesEveryone(t *testing.T) {
	pol := fast()
	pol.MaxAttempts = 3
	h := newHarness(t, firstThen(1, tooMany("1"), answer), pol)
	ctx := testCtx(t)

	var wg sync.WaitGroup
	wg.Go(func() {
		if res, err := lookup(ctx, h.p); err != nil || len(res.Attributes) != 1 {
			t.Errorf("the call that got the 429: %+v, %v; want it retried to success", res, err)
		}
	})
	waitFor(t, "the 429 pauses the provider", func() bool { return h.p.gate.pausedFor() > 0 })
	for range 5 {
		wg.Go(func() {
			if _, err := lookup(ctx, h.p); err != nil {
				t.Errorf("a call during the pause: %v", err)
			}
		})
	}
	wg.Wait()

	arrivals := h.srv.times()
	if len(arrivals) != 7 {
		t.Fatalf("the server saw %d requests, want 7 (the 429, its retry, five others)", len(arrivals))
	}
	for i, a := range arrivals[1:] {
		if gap := a.Sub(arrivals[0]); gap < 900*time.Millisecond {
			t.Errorf("request %d arrived %s after the 429 asked for 1s", i+2, gap)
		}
	}
	if got := h.metric(t, "heimdall_enrich_provider_errors_total", "class", "rate_limited"); got != 1 {
		t.Errorf("rate_limited errors = %v, want 1", got)
	}
	if got := h.metric(t, "heimdall_enrich_provider_retries_total"); got != 1 {
		t.Errorf("retries = %v, want 1", got)
	}
	if got := h.metric(t, "heimdall_enrich_provider_rate_limit_waits_total"); got < 5 {
		t.Errorf("rate limit waits = %v, want the five paused calls", got)
	}
}

// TestQuotaHeadersPauseEveryone proves that an answer saying the quota is
// spent until a reset (X-RateLimit-Remaining: 0, X-RateLimit-Reset: 1)
// pauses every caller, and that the bucket does not fill up meanwhile: the
// waiting calls leave one by one at the rate, not in a burst.
func TestQuotaHeadersPauseEveryone(t *testing.T) {
	pol := fast()
	pol.Rate, pol.Burst = 5, 3
	h := newHarness(t, firstThen(1, quotaSpent("1"), answer), pol)
	ctx := testCtx(t)

	res, err := lookup(ctx, h.p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pause != time.Second {
		t.Errorf("the first call's pause = %s, want 1s", res.Pause)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := lookup(ctx, h.p); err != nil {
				t.Errorf("a call after the quota ran out: %v", err)
			}
		})
	}
	wg.Wait()

	arrivals := h.srv.times()
	if len(arrivals) != 5 {
		t.Fatalf("the server saw %d requests, want 5", len(arrivals))
	}
	// The pause ends 1s after the client got the first answer, so after the
	// server saw the first request. At 5/s the waiting calls then leave one
	// by one, the k-th at least k·200ms after the pause: a bucket that
	// filled up during the pause would let three out at once. (Lower
	// bounds only: a late arrival cannot make them fail.)
	for k := 1; k < len(arrivals); k++ {
		least := time.Second + time.Duration(k)*200*time.Millisecond - 10*time.Millisecond
		if gap := arrivals[k].Sub(arrivals[0]); gap < least {
			t.Errorf("request %d arrived %s after the quota ran out for 1s, want at least %s", k+1, gap, least)
		}
	}
}
