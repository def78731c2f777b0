package resilient

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Policy configures the resilience stack of one provider. Wrap gives zero
// fields the Default values; negative values are invalid.
type Policy struct {
	// Rate is the most calls per second sent to the provider (default 10;
	// math.Inf(1) for no limit).
	Rate float64
	// Burst is how many calls may start at once after a quiet period
	// (default 1).
	Burst int
	// Concurrency is the most calls in flight (default 4).
	Concurrency int
	// Timeout bounds one attempt (default 10s).
	Timeout time.Duration
	// MaxAttempts bounds the attempts of one call, the first included
	// (default 4).
	MaxAttempts int
	// MaxElapsed is the total retry budget of one call: no retry starts
	// when it would begin after it (default 1m).
	MaxElapsed time.Duration
	// InitialBackoff and MaxBackoff bound the exponential backoff between
	// attempts (defaults 200ms and 10s).
	InitialBackoff, MaxBackoff time.Duration
	// BreakerFailures is how many consecutive failures open the circuit
	// breaker (default 5).
	BreakerFailures uint32
	// BreakerOpenFor is how long the breaker stays open before it lets probe
	// calls through (default 30s).
	BreakerOpenFor time.Duration
	// BreakerHalfOpenCalls is how many probe calls the half-open breaker
	// lets through; that many successes close it (default 1).
	BreakerHalfOpenCalls uint32
}

// Defaults of Policy.
const (
	DefaultRate                 = 10.0
	DefaultBurst                = 1
	DefaultConcurrency          = 4
	DefaultTimeout              = 10 * time.Second
	DefaultMaxAttempts          = 4
	DefaultMaxElapsed           = time.Minute
	DefaultInitialBackoff       = 200 * time.Millisecond
	DefaultMaxBackoff           = 10 * time.Second
	DefaultBreakerFailures      = 5
	DefaultBreakerOpenFor       = 30 * time.Second
	DefaultBreakerHalfOpenCalls = 1
)

// setDefaults fills the zero fields of p with the defaults.
func (p *Policy) setDefaults() {
	setZero(&p.Rate, DefaultRate)
	setZero(&p.Burst, DefaultBurst)
	setZero(&p.Concurrency, DefaultConcurrency)
	setZero(&p.Timeout, DefaultTimeout)
	setZero(&p.MaxAttempts, DefaultMaxAttempts)
	setZero(&p.MaxElapsed, DefaultMaxElapsed)
	setZero(&p.InitialBackoff, DefaultInitialBackoff)
	if p.MaxBackoff == 0 {
		p.MaxBackoff = max(DefaultMaxBackoff, p.InitialBackoff)
	}
	setZero(&p.BreakerFailures, DefaultBreakerFailures)
	setZero(&p.BreakerOpenFor, DefaultBreakerOpenFor)
	setZero(&p.BreakerHalfOpenCalls, DefaultBreakerHalfOpenCalls)
}

func setZero[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// Validate reports every problem of p. Wrap fills zero fields with the
// defaults first; called on its own, Validate counts them as problems.
func (p Policy) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if math.IsNaN(p.Rate) || p.Rate <= 0 {
		bad("rate %v must be above zero", p.Rate)
	}
	if p.Burst < 1 {
		bad("burst %d must be at least 1", p.Burst)
	}
	if p.Concurrency < 1 {
		bad("concurrency %d must be at least 1", p.Concurrency)
	}
	if p.Timeout <= 0 {
		bad("timeout %s must be above zero", p.Timeout)
	}
	if p.MaxAttempts < 1 {
		bad("max attempts %d must be at least 1", p.MaxAttempts)
	}
	if p.MaxElapsed <= 0 {
		bad("max elapsed %s must be above zero", p.MaxElapsed)
	}
	if p.InitialBackoff <= 0 {
		bad("initial backoff %s must be above zero", p.InitialBackoff)
	}
	if p.MaxBackoff < p.InitialBackoff {
		bad("max backoff %s must not be below the initial backoff %s", p.MaxBackoff, p.InitialBackoff)
	}
	if p.BreakerFailures < 1 {
		bad("breaker failures must be at least 1")
	}
	if p.BreakerOpenFor <= 0 {
		bad("breaker open time %s must be above zero", p.BreakerOpenFor)
	}
	if p.BreakerHalfOpenCalls < 1 {
		bad("breaker half-open calls must be at least 1")
	}
	return errors.Join(errs...)
}
