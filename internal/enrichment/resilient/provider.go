package resilient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/sync/semaphore"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

// maxPause caps a pause a provider asks for, so a broken answer cannot stop
// it for days.
const maxPause = time.Hour

// Provider is a provider wrapped with the resilience stack. It is an
// enrichment.Provider and safe for concurrent use.
type Provider struct {
	p        enrichment.Provider
	pol      Policy
	sem      *semaphore.Weighted
	gate     *gate
	cb       *gobreaker.CircuitBreaker[enrichment.Result]
	m        *providerMetrics
	log      *slog.Logger
	openedAt atomic.Int64 // when the breaker last opened, Unix nanoseconds
}

var _ enrichment.Provider = (*Provider)(nil)

// Option adjusts Wrap.
type Option func(*options)

type options struct {
	log *slog.Logger
}

// WithLogger sets the logger for breaker state changes (info, warn when
// it opens) and retries (debug). Nothing logged quotes a looked-up value.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// Wrap returns p with the resilience stack of pol (zero fields take the
// defaults). m may be nil.
func Wrap(p enrichment.Provider, pol Policy, m *Metrics, opts ...Option) (*Provider, error) {
	if p == nil {
		return nil, errors.New("wrap provider: no provider")
	}
	pol.setDefaults()
	if err := pol.Validate(); err != nil {
		return nil, fmt.Errorf("wrap provider %s: invalid policy: %w", p.Name(), err)
	}
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	rp := &Provider{
		p:    p,
		pol:  pol,
		sem:  semaphore.NewWeighted(int64(pol.Concurrency)),
		gate: newGate(pol.Rate, pol.Burst),
		m:    m.forProvider(p.Name()),
		log:  o.log,
	}
	rp.cb = gobreaker.NewCircuitBreaker[enrichment.Result](gobreaker.Settings{
		Name:        p.Name(),
		MaxRequests: pol.BreakerHalfOpenCalls,
		Timeout:     pol.BreakerOpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= pol.BreakerFailures
		},
		IsSuccessful:  func(err error) bool { return !tripsBreaker(err) },
		IsExcluded:    isCallerGone,
		OnStateChange: rp.breakerChanged,
	})
	return rp, nil
}

// Name returns the wrapped provider's name.
func (p *Provider) Name() string { return p.p.Name() }

// Type returns the wrapped provider's type.
func (p *Provider) Type() string { return p.p.Type() }

// Kinds returns the wrapped provider's kinds.
func (p *Provider) Kinds() []string { return p.p.Kinds() }

// BreakerState returns the circuit breaker's state: closed, half-open or
// open.
func (p *Provider) BreakerState() string { return p.cb.State().String() }

// breakerChanged runs under the breaker's lock: it must not call it.
func (p *Provider) breakerChanged(_ string, from, to gobreaker.State) {
	if to == gobreaker.StateOpen {
		p.openedAt.Store(time.Now().UnixNano())
	}
	p.m.breakerChanged(to)
	level := slog.LevelInfo
	if to == gobreaker.StateOpen {
		level = slog.LevelWarn
	}
	p.log.Log(context.Background(), level, "circuit breaker state changed", "from", from.String(), "to", to.String())
}
