package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A caller gets its burst, then waits; Retry-After is how long.
func TestLimiterBurstThenWait(t *testing.T) {
	l := newLimiter(Rate{PerSecond: 0.5, Burst: 3}, 100)
	now := time.Unix(1_000_000, 0)
	for i := range 3 {
		if ok, _ := l.allow("a", now); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.allow("a", now)
	if ok || wait <= 0 || retryAfterSeconds(wait) != 2 {
		t.Fatalf("beyond the burst: ok %v, wait %v", ok, wait)
	}
	if ok, _ := l.allow("b", now); !ok {
		t.Fatal("another caller is refused")
	}
	if ok, _ := l.allow("a", now.Add(2*time.Second)); !ok {
		t.Fatal("refused after the wait")
	}
}

// Buckets unused until full again are dropped; beyond the bound, new
// callers share one bucket and the map does not grow.
func TestLimiterBounded(t *testing.T) {
	l := newLimiter(Rate{PerSecond: 1, Burst: 2}, 100)
	now := time.Unix(1_000_000, 0)
	for i := range 10_000 {
		l.allow("caller-"+strconv.Itoa(i), now)
	}
	if n := l.size(); n != 100 {
		t.Fatalf("%d buckets held, want the bound 100", n)
	}
	// The shared bucket is used up by now: a new caller waits.
	if ok, _ := l.allow("newcomer", now); ok {
		t.Fatal("a caller beyond the bound had its own bucket")
	}
	// Known callers keep theirs.
	if ok, _ := l.allow("caller-0", now); !ok {
		t.Fatal("a known caller lost its bucket")
	}
	later := now.Add(l.idle() + time.Second)
	if ok, _ := l.allow("newcomer", later); !ok {
		t.Fatal("a new caller refused once the idle buckets were gone")
	}
	if n := l.size(); n != 1 {
		t.Fatalf("%d buckets after the idle ones went, want 1", n)
	}
}

// Requests without a valid token are counted by address: past the burst
// they get 429 with Retry-After, before authentication is refused.
func TestRateLimitUnauthenticated(t *testing.T) {
	s := fullServer()
	s.limiters = newLimiters(map[RateClass]Rate{RateDecrypt: {PerSecond: 0.01, Burst: 2}})
	h := s.Handler()
	post := func(addr string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/decrypt", strings.NewReader(`{}`))
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for range 2 {
		if rec := post("192.0.2.1:1000"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("within the burst: %d", rec.Code)
		}
	}
	rec := post("192.0.2.1:2000")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("beyond the burst: %d %v", rec.Code, rec.Header())
	}
	if rec := post("192.0.2.2:1000"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("another address: %d", rec.Code)
	}
	if rec := post("[2001:db8::1]:1"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("v6: %d", rec.Code)
	}
	post("[2001:db8::2]:1")
	if rec := post("[2001:db8::3]:1"); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("one /64 is one caller: %d", rec.Code)
	}
	// Other routes are not limited.
	for range 5 {
		req := httptest.NewRequest(http.MethodGet, "/v1/entities/x", nil)
		req.RemoteAddr = "192.0.2.1:1000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("unlimited route: %d", rec.Code)
		}
	}
}
