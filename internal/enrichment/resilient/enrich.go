package resilient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/sony/gobreaker/v2"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

// Enrich looks req up through the resilience stack (see the package
// documentation). Errors are always *enrichment.Error.
func (p *Provider) Enrich(ctx context.Context, req enrichment.Request) (enrichment.Result, error) {
	res, err := p.enrich(ctx, req)
	switch {
	case err != nil:
		p.m.call(outcomeError)
		return enrichment.Result{}, err
	case res.NotFound:
		p.m.call(outcomeNotFound)
	default:
		p.m.call(outcomeOK)
	}
	return res, nil
}

func (p *Provider) enrich(ctx context.Context, req enrichment.Request) (enrichment.Result, error) {
	if err := p.sem.Acquire(ctx, 1); err != nil {
		return enrichment.Result{}, p.fail(ctxError(ctx))
	}
	defer p.sem.Release(1)

	// No attempt starts after deadline: the caller's, or the retry budget.
	start := time.Now()
	deadline := start.Add(p.pol.MaxElapsed)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	attempt := 0
	op := func() (enrichment.Result, error) {
		attempt++
		if attempt > 1 {
			p.m.retry()
		}
		return p.attempt(ctx, req, deadline)
	}
	notify := func(err error, wait time.Duration) {
		e := asError(err)
		p.log.Debug("retrying provider call", "attempt", attempt, "class", string(e.Class), "reason", e.Reason, "wait", wait)
	}
	res, err := backoff.Retry(ctx, op,
		backoff.WithBackOff(newPacedBackOff(p.pol, p.gate, deadline)),
		backoff.WithMaxTries(uint(p.pol.MaxAttempts)),
		backoff.WithMaxElapsedTime(p.pol.MaxElapsed),
		backoff.WithNotify(notify))
	if err == nil {
		return res, nil
	}
	// The last attempt's error may still be marked permanent.
	var perm *backoff.PermanentError
	if errors.As(err, &perm) {
		err = perm.Err
	}
	var e *enrichment.Error
	if errors.As(err, &e) {
		return enrichment.Result{}, e
	}
	// Retry stopped waiting because ctx ended.
	return enrichment.Result{}, p.fail(ctxError(ctx))
}

// attempt makes one attempt: it waits for the pause and the rate limit,
// then calls the provider through the breaker. Errors that must not be
// retried are marked with backoff.Permanent.
func (p *Provider) attempt(ctx context.Context, req enrichment.Request, deadline time.Time) (enrichment.Result, error) {
	// A call the open breaker would refuse need not wait for a token.
	if p.cb.State() == gobreaker.StateOpen {
		return enrichment.Result{}, backoff.Permanent(p.fail(p.refused(gobreaker.ErrOpenState)))
	}
	waited, err := p.gate.wait(ctx, deadline)
	p.m.waited(waited)
	if err != nil {
		if ctx.Err() != nil {
			return enrichment.Result{}, backoff.Permanent(p.fail(ctxError(ctx)))
		}
		return enrichment.Result{}, backoff.Permanent(p.fail(asError(err)))
	}
	res, err := p.cb.Execute(func() (enrichment.Result, error) { return p.call(ctx, req) })
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return enrichment.Result{}, backoff.Permanent(p.fail(p.refused(err)))
	}
	if err != nil {
		e := p.fail(asError(err))
		if e.RetryAfter > 0 {
			p.gate.pause(time.Now().Add(min(e.RetryAfter, maxPause)))
		}
		if !e.Class.Retriable() || e.Class == enrichment.ClassBreakerOpen || isCallerGone(e) {
			return enrichment.Result{}, backoff.Permanent(e)
		}
		return enrichment.Result{}, e
	}
	if res.Pause > 0 {
		p.gate.pause(time.Now().Add(min(res.Pause, maxPause)))
	}
	return res, nil
}

// call runs the provider with the attempt's deadline.
func (p *Provider) call(ctx context.Context, req enrichment.Request) (enrichment.Result, error) {
	actx, cancel := context.WithTimeout(ctx, p.pol.Timeout)
	defer cancel()
	p.m.attemptStarted()
	start := time.Now()
	res, err := p.p.Enrich(actx, req)
	p.m.attemptDone(time.Since(start))
	switch {
	case err == nil:
		return res, nil
	case ctx.Err() != nil:
		return enrichment.Result{}, ctxError(ctx)
	case errors.Is(actx.Err(), context.DeadlineExceeded):
		return enrichment.Result{}, &enrichment.Error{Class: enrichment.ClassTimeout,
			Reason: fmt.Sprintf("the attempt took longer than %s", p.pol.Timeout), Err: err}
	}
	return enrichment.Result{}, asError(err)
}

// refused is the error of a call the breaker did not let through.
func (p *Provider) refused(err error) *enrichment.Error {
	if errors.Is(err, gobreaker.ErrTooManyRequests) {
		// Half-open: the probes decide within an attempt's timeout.
		return &enrichment.Error{Class: enrichment.ClassBreakerOpen, Err: err,
			Reason:     "the circuit breaker is half-open and its probe calls are taken",
			RetryAfter: min(p.pol.Timeout, p.pol.BreakerOpenFor)}
	}
	halfOpenAt := time.Unix(0, p.openedAt.Load()).Add(p.pol.BreakerOpenFor)
	return &enrichment.Error{Class: enrichment.ClassBreakerOpen, Err: err,
		Reason:     "the circuit breaker is open",
		RetryAfter: max(time.Until(halfOpenAt), time.Millisecond)}
}

// fail counts e and returns it.
func (p *Provider) fail(e *enrichment.Error) *enrichment.Error {
	p.m.failure(e.Class)
	return e
}
