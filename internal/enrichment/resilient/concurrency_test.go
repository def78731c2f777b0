package resilient

import (
	"math"
	"sync"
	"testing"
)

// TestConcurrencyBounded proves that the server never sees more than
// Concurrency requests at once, and that the limit is reached (so the
// check could fail).
func TestConcurrencyBounded(t *testing.T) {
	const limit = 3
	pol := fast()
	pol.Rate, pol.Concurrency = math.Inf(1), limit
	h := newHarness(t, slow, pol)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			for range 3 {
				if _, err := lookup(ctx, h.p); err != nil {
					t.Errorf("lookup: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if got := h.srv.maxInFlight.Load(); got != limit {
		t.Errorf("the server saw up to %d requests at once, want %d", got, limit)
	}
	if n := h.srv.hits(); n != 36 {
		t.Errorf("the server saw %d requests, want 36", n)
	}
	if got := h.metric(t, "heimdall_enrich_provider_in_flight"); got != 0 {
		t.Errorf("in flight after all calls = %v, want 0", got)
	}
}
