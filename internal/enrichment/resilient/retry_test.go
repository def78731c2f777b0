package resilient

import (
	"net/http"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

// TestHangTimesOutPerAttempt proves that a server that never answers is
// abandoned after Timeout per attempt, each attempt is retried, the call
// ends with ClassTimeout, and nothing is left running.
func TestHangTimesOutPerAttempt(t *testing.T) {
	noLeaks(t)
	pol := fast()
	pol.Timeout, pol.MaxAttempts = 100*time.Millisecond, 3
	h := newHarness(t, hang, pol)
	start := time.Now()
	_, err := lookup(testCtx(t), h.p)
	took := time.Since(start)
	if class(t, err) != enrichment.ClassTimeout {
		t.Fatalf("got %v, want timeout", err)
	}
	if n := h.srv.hits(); n != 3 {
		t.Errorf("the server saw %d requests, want 3 attempts", n)
	}
	if took < 300*time.Millisecond {
		t.Errorf("three attempts of 100ms took %s", took)
	}
	if got := h.metric(t, "heimdall_enrich_provider_errors_total", "class", "timeout"); got != 3 {
		t.Errorf("timeout errors = %v, want 3", got)
	}
	if got := h.metric(t, "heimdall_enrich_provider_call_duration_seconds"); got != 3 {
		t.Errorf("attempt durations observed = %v, want 3", got)
	}
}

// TestFinalClassesNotRetried proves that answers that cannot improve are
// not retried: malformed JSON is ClassBadResponse, 4xx ClassRejected, each
// after a single request.
func TestFinalClassesNotRetried(t *testing.T) {
	for _, c := range []struct {
		name string
		b    behaviour
		want enrichment.Class
	}{
		{"malformed JSON", malformed, enrichment.ClassBadResponse},
		{"400", status(http.StatusBadRequest), enrichment.ClassRejected},
		{"401", status(http.StatusUnauthorized), enrichment.ClassRejected},
	} {
		t.Run(c.name, func(t *testing.T) {
			pol := fast()
			pol.MaxAttempts = 4
			h := newHarness(t, c.b, pol)
			if _, err := lookup(testCtx(t), h.p); class(t, err) != c.want {
				t.Fatalf("got %v, want %s", err, c.want)
			}
			if n := h.srv.hits(); n != 1 {
				t.Errorf("the server saw %d requests, want 1 (no retry)", n)
			}
			if got := h.metric(t, "heimdall_enrich_provider_retries_total"); got != 0 {
				t.Errorf("retries = %v, want 0", got)
			}
		})
	}
}

// TestUnavailableRetriedWithBackoff proves that 500s are retried up to
// MaxAttempts with exponentially growing, jittered waits in between.
func TestUnavailableRetriedWithBackoff(t *testing.T) {
	const initial = 40 * time.Millisecond
	pol := fast()
	pol.MaxAttempts, pol.InitialBackoff, pol.MaxBackoff = 4, initial, time.Second
	h := newHarness(t, status(http.StatusInternalServerError), pol)
	_, err := lookup(testCtx(t), h.p)
	if class(t, err) != enrichment.ClassUnavailable {
		t.Fatalf("got %v, want unavailable", err)
	}
	arrivals := h.srv.times()
	if len(arrivals) != 4 {
		t.Fatalf("the server saw %d requests, want 4", len(arrivals))
	}
	// The i-th wait is drawn from initial·2^i ± 50%.
	for i := 1; i < len(arrivals); i++ {
		least := time.Duration(float64(initial<<(i-1)) * (1 - randomization))
		if gap := arrivals[i].Sub(arrivals[i-1]); gap < least {
			t.Errorf("wait before attempt %d was %s, want at least %s", i+1, gap, least)
		}
	}
	if got := h.metric(t, "heimdall_enrich_provider_retries_total"); got != 3 {
		t.Errorf("retries = %v, want 3", got)
	}
}

// TestRetrySucceeds proves that a call whose first attempts fail with 500
// succeeds once the server answers.
func TestRetrySucceeds(t *testing.T) {
	pol := fast()
	pol.MaxAttempts = 4
	h := newHarness(t, firstThen(2, status(http.StatusBadGateway), answer), pol)
	res, err := lookup(testCtx(t), h.p)
	if err != nil || len(res.Attributes) != 1 || res.Attributes[0].Value != "NL" {
		t.Fatalf("got %+v, %v", res, err)
	}
	if n := h.srv.hits(); n != 3 {
		t.Errorf("the server saw %d requests, want 3", n)
	}
	if got := h.metric(t, "heimdall_enrich_provider_calls_total", "outcome", "ok"); got != 1 {
		t.Errorf("ok calls = %v, want 1", got)
	}
}

// TestMaxElapsedBoundsRetries proves that the retry budget ends a call
// long before MaxAttempts would.
func TestMaxElapsedBoundsRetries(t *testing.T) {
	pol := fast()
	pol.MaxAttempts, pol.MaxElapsed = 100, 300*time.Millisecond
	pol.InitialBackoff, pol.MaxBackoff = 20*time.Millisecond, 40*time.Millisecond
	h := newHarness(t, status(http.StatusInternalServerError), pol)
	start := time.Now()
	_, err := lookup(testCtx(t), h.p)
	took := time.Since(start)
	if class(t, err) != enrichment.ClassUnavailable {
		t.Fatalf("got %v, want unavailable", err)
	}
	if n := h.srv.hits(); n < 3 || n >= 100 {
		t.Errorf("the server saw %d requests, want a few within 300ms", n)
	}
	if took > time.Second {
		t.Errorf("a call with a 300ms budget took %s", took)
	}
}

// TestRetryAfterBeyondBudget proves that a wait the provider asks for that
// the budget cannot cover ends the call at once with ClassRateLimited and
// the wait, and that other calls give up the same way without reaching the
// server.
func TestRetryAfterBeyondBudget(t *testing.T) {
	pol := fast()
	pol.MaxAttempts, pol.MaxElapsed = 4, time.Second
	h := newHarness(t, tooMany("5"), pol)
	ctx := testCtx(t)
	for i := range 3 {
		start := time.Now()
		_, err := lookup(ctx, h.p)
		if class(t, err) != enrichment.ClassRateLimited {
			t.Fatalf("call %d: %v, want rate_limited", i+1, err)
		}
		if ra := enrichment.RetryAfter(err); ra < 4*time.Second || ra > 5*time.Second {
			t.Errorf("call %d: retry after %s, want about 5s", i+1, ra)
		}
		if took := time.Since(start); took > 500*time.Millisecond {
			t.Errorf("call %d waited %s for a pause it could not outlast", i+1, took)
		}
	}
	if n := h.srv.hits(); n != 1 {
		t.Errorf("the server saw %d requests, want 1", n)
	}
}
