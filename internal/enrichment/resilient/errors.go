package resilient

import (
	"context"
	"errors"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

// callerGone marks a failure caused by the caller's context ending: it says
// nothing about the provider, so the breaker ignores it and no retry
// follows.
type callerGone struct{ err error }

func (c callerGone) Error() string { return c.err.Error() }
func (c callerGone) Unwrap() error { return c.err }

func isCallerGone(err error) bool {
	var c callerGone
	return errors.As(err, &c)
}

// ctxError is the error of a call whose context ended: ClassCanceled when
// it was canceled, ClassTimeout when its deadline passed.
func ctxError(ctx context.Context) *enrichment.Error {
	err := callerGone{context.Cause(ctx)}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &enrichment.Error{Class: enrichment.ClassTimeout, Reason: "the caller's deadline passed", Err: err}
	}
	return &enrichment.Error{Class: enrichment.ClassCanceled, Reason: "the call was canceled", Err: err}
}

// asError returns err as an *enrichment.Error, classifying foreign errors.
func asError(err error) *enrichment.Error {
	var e *enrichment.Error
	if errors.As(err, &e) {
		return e
	}
	return &enrichment.Error{Class: enrichment.Classify(err), Reason: enrichment.Reason(err), Err: err}
}

// tripsBreaker reports whether err counts as a failure for the circuit
// breaker: only failures that say the provider is unwell do. Rejections,
// rate limiting and negative answers show it working.
func tripsBreaker(err error) bool {
	switch enrichment.Classify(err) {
	case enrichment.ClassTimeout, enrichment.ClassUnavailable, enrichment.ClassBadResponse:
		return true
	}
	return false
}
