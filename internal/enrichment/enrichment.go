package enrichment

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Request is one observable to enrich.
type Request struct {
	Key   string // canonical record key of the observable
	Kind  string // observable kind, for example ipv4-addr or domain-name
	Value string // canonical value (never personal)
}

// Attribute is a named value set on the enriched observable. Names are short
// and stable (country, asn, ptr, verdict); the worker prefixes them with the
// provider's name.
type Attribute struct {
	Name  string
	Value string
}

// Target is the far end of a relation a provider found.
type Target struct {
	Kind  string // observable kind; the worker canonicalises Value and derives the key
	Value string
}

// Relation says the enriched observable relates to another observable. When
// Reverse is set the edge runs from Target to the enriched observable (a
// forward DNS answer for an IP is domain RESOLVES_TO ip).
type Relation struct {
	Type       string // edge label, ^[A-Z][A-Z0-9_]{0,62}$
	Target     Target
	Reverse    bool
	Attributes []Attribute
}

// Result is what a provider found. NotFound says the provider answered but
// knows nothing about the observable (a negative result, cached like one).
type Result struct {
	NotFound   bool
	Attributes []Attribute
	Relations  []Relation
	// Vector is an embedding of the value (embedding providers only).
	Vector []float32
	// Version names the data the answer came from: a database build, a
	// model name, an API version. Optional.
	Version string
	// Pause asks the caller to send nothing more to this provider for a
	// while although this call succeeded (a quota header said the quota is
	// used up until a reset).
	Pause time.Duration
}

// Provider enriches observables of some kinds. Enrich must honour ctx's
// deadline and cancellation and must be safe for concurrent use.
type Provider interface {
	// Name is the configured provider name, unique in a deployment.
	Name() string
	// Type names the implementation: geoip, dns, rdap, http or embedding.
	Type() string
	// Kinds are the observable kinds the provider accepts.
	Kinds() []string
	// Enrich looks req up. Errors should be *Error (others are classified
	// as ClassUnavailable, or ClassTimeout/ClassCanceled from ctx).
	Enrich(ctx context.Context, req Request) (Result, error)
}

// Class classifies a failed call. Retriable classes may succeed when tried
// again later; the others are final for this request.
type Class string

// Error classes.
const (
	ClassTimeout     Class = "timeout"      // the call did not finish in time (retriable)
	ClassRateLimited Class = "rate_limited" // the provider said slow down, 429 (retriable)
	ClassUnavailable Class = "unavailable"  // connection failed, 5xx (retriable)
	ClassBadResponse Class = "bad_response" // the answer could not be understood (final)
	ClassRejected    Class = "rejected"     // the provider refused the request, 4xx (final)
	ClassBreakerOpen Class = "breaker_open" // the circuit breaker is open: not called (retriable later)
	ClassCanceled    Class = "canceled"     // the caller gave up (shutdown)
)

// Retriable reports whether a failure of class c may succeed when retried.
func (c Class) Retriable() bool {
	switch c {
	case ClassTimeout, ClassRateLimited, ClassUnavailable, ClassBreakerOpen:
		return true
	}
	return false
}

// Error is a classified provider failure. Reason is a fixed text that never
// quotes the looked-up value or the provider's answer (it ends up in events,
// logs and metrics).
type Error struct {
	Class  Class
	Reason string
	// RetryAfter is how long the provider asked callers to wait
	// (Retry-After, quota reset), or zero.
	RetryAfter time.Duration
	Err        error // underlying error, for logs of the provider itself; may hold values
}

func (e *Error) Error() string {
	if e.Reason == "" {
		return string(e.Class)
	}
	return string(e.Class) + ": " + e.Reason
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of class c with a reason formatted from format
// and args, which must not hold looked-up values or answers.
func Errorf(c Class, format string, args ...any) *Error {
	return &Error{Class: c, Reason: fmt.Sprintf(format, args...)}
}

// Classify returns the class of err: its own class for an *Error,
// ClassTimeout or ClassCanceled for context errors, else ClassUnavailable.
// A nil error has class "".
func Classify(err error) Class {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return ClassTimeout
	case errors.Is(err, context.Canceled):
		return ClassCanceled
	}
	return ClassUnavailable
}

// RetryAfter returns the wait an error asked for, or zero.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// Reason returns a fixed, value-free description of err.
func Reason(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Reason != "" {
		return e.Reason
	}
	switch Classify(err) {
	case ClassTimeout:
		return "the call timed out"
	case ClassCanceled:
		return "the call was canceled"
	}
	return "the provider could not be reached"
}

type attemptsKey struct{}

// WithAttemptCounter returns a context whose provider calls are counted in
// n by providers wrapped with Counted.
func WithAttemptCounter(ctx context.Context, n *atomic.Int32) context.Context {
	return context.WithValue(ctx, attemptsKey{}, n)
}

// Counted wraps p so every call adds one to the context's attempt counter
// (see WithAttemptCounter). Put it innermost, under the retry layer, so
// retries count.
func Counted(p Provider) Provider { return counted{p} }

type counted struct{ Provider }

func (c counted) Enrich(ctx context.Context, req Request) (Result, error) {
	if n, ok := ctx.Value(attemptsKey{}).(*atomic.Int32); ok {
		n.Add(1)
	}
	return c.Provider.Enrich(ctx, req)
}
