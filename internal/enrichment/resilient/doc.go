// Package resilient wraps an enrichment.Provider with the resilience stack
// every provider gets, so providers stay plain clients that only classify
// their failures.
//
// One Enrich call goes through, in this order:
//
//   - a concurrency limit (a semaphore of Policy.Concurrency slots; waiting
//     for a slot respects the caller's context);
//   - a retry loop (github.com/cenkalti/backoff/v5: exponential backoff with
//     jitter, at most Policy.MaxAttempts attempts within Policy.MaxElapsed).
//     Only retriable classes are retried; a wait the provider asked for
//     (Retry-After, quota reset) is waited out in full, or the call gives up
//     at once when the wait would pass the caller's deadline or the budget;
//   - per attempt, a provider-wide pause and a token bucket
//     (golang.org/x/time/rate). When any call learns that the remote
//     service wants a pause (an error with RetryAfter, or a Result with
//     Pause), no attempt of any goroutine starts before the pause ends, and
//     the bucket does not fill up while paused;
//   - a circuit breaker (github.com/sony/gobreaker/v2) that opens after
//     Policy.BreakerFailures consecutive timeouts, unavailable answers or bad
//     responses (rejections, negative answers and rate limiting do not count),
//     refuses calls with ClassBreakerOpen while open, and lets
//     Policy.BreakerHalfOpenCalls probe calls through after
//     Policy.BreakerOpenFor (a call the open breaker would refuse is
//     refused before it waits for a token);
//   - a per-attempt deadline of Policy.Timeout, then the provider itself.
//
// Every error Enrich returns is an *enrichment.Error. Calls run on the
// caller's goroutine: nothing is left running when Enrich returns, as long
// as the provider honours its context.
//
// Metrics (see NewMetrics) are labelled by provider name and fixed words
// only, never by looked-up values.
package resilient
