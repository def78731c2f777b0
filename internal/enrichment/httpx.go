package enrichment

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HTTPStatusError classifies an HTTP response status: 429 is
// ClassRateLimited with the Retry-After wait, other 4xx ClassRejected
// (404 is not an error: providers answer NotFound), 5xx ClassUnavailable
// with Retry-After if given. It returns nil for 2xx and 404.
func HTTPStatusError(resp *http.Response, now time.Time) *Error {
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300, resp.StatusCode == http.StatusNotFound:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests:
		e := Errorf(ClassRateLimited, "the provider answered 429 Too Many Requests")
		e.RetryAfter = max(RetryAfterHeader(resp.Header, now), QuotaPause(resp.Header, now))
		return e
	case resp.StatusCode >= 500:
		e := Errorf(ClassUnavailable, "the provider answered HTTP %d", resp.StatusCode)
		e.RetryAfter = RetryAfterHeader(resp.Header, now)
		return e
	}
	return Errorf(ClassRejected, "the provider answered HTTP %d", resp.StatusCode)
}

// maxWait caps waits a remote service asks for, so a broken header cannot
// stop a provider for days.
const maxWait = time.Hour

// RetryAfterHeader parses Retry-After (delay-seconds or an HTTP date) into
// a wait from now; zero if absent or unparsable.
func RetryAfterHeader(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return min(time.Duration(s)*time.Second, maxWait)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxWait)
	}
	return 0
}

// QuotaPause reads the common quota headers (X-RateLimit-Remaining with
// X-RateLimit-Reset, and the IETF draft's RateLimit-Remaining with
// RateLimit-Reset): when no request remains, it returns the wait until the
// reset (seconds from now, or a Unix time); otherwise zero.
func QuotaPause(h http.Header, now time.Time) time.Duration {
	for _, p := range []string{"X-RateLimit-", "RateLimit-"} {
		rem := strings.TrimSpace(h.Get(p + "Remaining"))
		if rem == "" {
			continue
		}
		n, err := strconv.ParseInt(rem, 10, 64)
		if err != nil || n > 0 {
			return 0
		}
		reset, err := strconv.ParseInt(strings.TrimSpace(h.Get(p+"Reset")), 10, 64)
		if err != nil || reset <= 0 {
			return time.Second
		}
		if reset > 1_000_000_000 { // a Unix time
			d := time.Unix(reset, 0).Sub(now)
			if d <= 0 {
				return 0
			}
			return min(d, maxWait)
		}
		return min(time.Duration(reset)*time.Second, maxWait)
	}
	return 0
}
