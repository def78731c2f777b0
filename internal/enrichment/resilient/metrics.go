package resilient

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

// Metrics are the resilience stack's Prometheus metrics, shared by every
// wrapped provider (labelled by provider name). A nil *Metrics records
// nothing.
type Metrics struct {
	calls        *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	errors       *prometheus.CounterVec
	retries      *prometheus.CounterVec
	breakerState *prometheus.GaugeVec
	transitions  *prometheus.CounterVec
	waits        *prometheus.CounterVec
	waitSeconds  *prometheus.CounterVec
	inFlight     *prometheus.GaugeVec
}

// NewMetrics registers the metrics with reg. Calling it again with the same
// registry returns metrics sharing the registered collectors.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("register resilience metrics: no registerer")
	}
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "heimdall_enrich_provider_calls_total",
			Help: "Enrich calls of wrapped providers, by provider and outcome (ok, not_found, error), counted once per call whatever its retries."},
			[]string{"provider", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "heimdall_enrich_provider_call_duration_seconds",
			Help:    "Duration of single attempts against a provider, by provider.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}, []string{"provider"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "heimdall_enrich_provider_errors_total",
			Help: "Failed attempts and refused calls (breaker open, pause past the deadline, canceled), by provider and error class; retried failures count too."},
			[]string{"provider", "class"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "heimdall_enrich_provider_retries_total",
			Help: "Attempts after the first of a call, by provider."}, []string{"provider"}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "heimdall_enrich_provider_breaker_state",
			Help: "State of the provider's circuit breaker: 0 closed, 1 half-open, 2 open."}, []string{"provider"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "heimdall_enrich_provider_breaker_transitions_total",
			Help: "Circuit breaker state changes, by provider and new state."}, []string{"provider", "to"}),
		waits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "heimdall_enrich_provider_rate_limit_waits_total",
			Help: "Attempts that had to wait for the rate limit or a pause the provider asked for, by provider."}, []string{"provider"}),
		waitSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "heimdall_enrich_provider_rate_limit_wait_seconds_total",
			Help: "Time attempts spent waiting for the rate limit or a pause the provider asked for, by provider."}, []string{"provider"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "heimdall_enrich_provider_in_flight",
			Help: "Attempts currently running against a provider."}, []string{"provider"}),
	}
	var err error
	register(reg, &m.calls, &err)
	register(reg, &m.duration, &err)
	register(reg, &m.errors, &err)
	register(reg, &m.retries, &err)
	register(reg, &m.breakerState, &err)
	register(reg, &m.transitions, &err)
	register(reg, &m.waits, &err)
	register(reg, &m.waitSeconds, &err)
	register(reg, &m.inFlight, &err)
	if err != nil {
		return nil, fmt.Errorf("register resilience metrics: %w", err)
	}
	return m, nil
}

// register registers *c with reg, or takes the collector reg already has
// under the same description. The first problem ends up in *errp.
func register[C prometheus.Collector](reg prometheus.Registerer, c *C, errp *error) {
	if *errp != nil {
		return
	}
	err := reg.Register(*c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			*c = existing
			return
		}
	}
	*errp = err
}

// providerMetrics are the metrics of one provider; a nil *providerMetrics
// records nothing.
type providerMetrics struct {
	m           *Metrics
	name        string
	duration    prometheus.Observer
	retries     prometheus.Counter
	state       prometheus.Gauge
	waits       prometheus.Counter
	waitSeconds prometheus.Counter
	inFlight    prometheus.Gauge
}

func (m *Metrics) forProvider(name string) *providerMetrics {
	if m == nil {
		return nil
	}
	pm := &providerMetrics{
		m:           m,
		name:        name,
		duration:    m.duration.WithLabelValues(name),
		retries:     m.retries.WithLabelValues(name),
		state:       m.breakerState.WithLabelValues(name),
		waits:       m.waits.WithLabelValues(name),
		waitSeconds: m.waitSeconds.WithLabelValues(name),
		inFlight:    m.inFlight.WithLabelValues(name),
	}
	pm.state.Set(0)
	for _, o := range []string{outcomeOK, outcomeNotFound, outcomeError} {
		m.calls.WithLabelValues(name, o) // expose zeros
	}
	return pm
}

// Outcomes of calls.
const (
	outcomeOK       = "ok"
	outcomeNotFound = "not_found"
	outcomeError    = "error"
)

func (pm *providerMetrics) call(outcome string) {
	if pm != nil {
		pm.m.calls.WithLabelValues(pm.name, outcome).Inc()
	}
}

func (pm *providerMetrics) failure(c enrichment.Class) {
	if pm != nil {
		pm.m.errors.WithLabelValues(pm.name, classLabel(c)).Inc()
	}
}

func (pm *providerMetrics) retry() {
	if pm != nil {
		pm.retries.Inc()
	}
}

func (pm *providerMetrics) attemptStarted() {
	if pm != nil {
		pm.inFlight.Inc()
	}
}

func (pm *providerMetrics) attemptDone(d time.Duration) {
	if pm != nil {
		pm.inFlight.Dec()
		pm.duration.Observe(d.Seconds())
	}
}

func (pm *providerMetrics) waited(d time.Duration) {
	if pm != nil && d > 0 {
		pm.waits.Inc()
		pm.waitSeconds.Add(d.Seconds())
	}
}

func (pm *providerMetrics) breakerChanged(to gobreaker.State) {
	if pm != nil {
		pm.state.Set(float64(stateValue(to)))
		pm.m.transitions.WithLabelValues(pm.name, to.String()).Inc()
	}
}

// stateValue maps a breaker state to the gauge's value.
func stateValue(s gobreaker.State) int {
	switch s {
	case gobreaker.StateHalfOpen:
		return 1
	case gobreaker.StateOpen:
		return 2
	}
	return 0
}

// classLabel keeps the class label to the known classes (a provider could
// make up its own).
func classLabel(c enrichment.Class) string {
	switch c {
	case enrichment.ClassTimeout, enrichment.ClassRateLimited, enrichment.ClassUnavailable,
		enrichment.ClassBadResponse, enrichment.ClassRejected, enrichment.ClassBreakerOpen, enrichment.ClassCanceled:
		return string(c)
	}
	return "other"
}
