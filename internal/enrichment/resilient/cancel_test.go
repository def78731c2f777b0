package resilient

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

// TestCancelReturnsPromptly proves that canceling the caller's context
// ends a call with ClassCanceled at once wherever it waits (in an attempt,
// in a backoff wait, for a concurrency slot, in a pause), and that no
// goroutine outlives the test.
func TestCancelReturnsPromptly(t *testing.T) {
	const cancelAfter = 100 * time.Millisecond
	cases := []struct {
		name string
		b    behaviour
		pol  func(*Policy)
		// busy, if set, occupies the provider first (run until canceled).
		busy bool
		hits int
	}{
		{name: "during an attempt", b: hang, hits: 1},
		{name: "during a backoff wait", b: status(http.StatusInternalServerError), hits: 1,
			pol: func(p *Policy) { p.MaxAttempts, p.InitialBackoff, p.MaxBackoff = 3, 5*time.Second, 5*time.Second }},
		{name: "waiting for a slot", b: hang, busy: true, hits: 1,
			pol: func(p *Policy) { p.Concurrency = 1 }},
		{name: "in a pause", b: firstThen(1, quotaSpent("10"), answer), busy: true, hits: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			noLeaks(t)
			pol := fast()
			pol.Timeout, pol.MaxElapsed = 10*time.Second, time.Minute
			if c.pol != nil {
				c.pol(&pol)
			}
			h := newHarness(t, c.b, pol)
			if c.busy {
				busyCtx, stop := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				t.Cleanup(func() { stop(); wg.Wait() }) // before the leak check
				wg.Go(func() { _, _ = lookup(busyCtx, h.p) })
				waitFor(t, "the first call reaches the server", func() bool { return h.srv.hits() == 1 })
				if c.name == "in a pause" {
					waitFor(t, "the quota pause starts", func() bool { return h.p.gate.pausedFor() > 0 })
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			timer := time.AfterFunc(cancelAfter, cancel)
			defer timer.Stop()
			start := time.Now()
			_, err := lookup(ctx, h.p)
			took := time.Since(start)
			if class(t, err) != enrichment.ClassCanceled {
				t.Fatalf("got %v, want canceled", err)
			}
			if took > cancelAfter+time.Second {
				t.Errorf("the call returned %s after it was canceled", took-cancelAfter)
			}
			if n := h.srv.hits(); n != c.hits {
				t.Errorf("the server saw %d requests, want %d", n, c.hits)
			}
			if s := h.p.BreakerState(); s != "closed" {
				t.Errorf("canceled calls made the breaker %s", s)
			}
		})
	}
}

// TestCallerDeadline proves that a call whose own deadline passes during
// an attempt fails with ClassTimeout, is not retried, and does not count
// against the provider in the breaker.
func TestCallerDeadline(t *testing.T) {
	noLeaks(t)
	pol := fast()
	pol.Timeout, pol.MaxAttempts, pol.BreakerFailures = 10*time.Second, 4, 1
	h := newHarness(t, hang, pol)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if _, err := lookup(ctx, h.p); class(t, err) != enrichment.ClassTimeout {
		t.Fatalf("got %v, want timeout", err)
	}
	if n := h.srv.hits(); n != 1 {
		t.Errorf("the server saw %d requests, want 1", n)
	}
	if s := h.p.BreakerState(); s != "closed" {
		t.Errorf("the caller's deadline made the breaker %s", s)
	}
}
