package enrich

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the worker's Prometheus metrics (the provider calls
// themselves are measured by package resilient). A nil *Metrics records
// nothing.
type Metrics struct {
	enqueued    *prometheus.CounterVec
	cacheHits   *prometheus.CounterVec
	coalesced   *prometheus.CounterVec
	results     *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	deferrals   *prometheus.CounterVec
	recoveredN  prometheus.Counter
	undecodable prometheus.Counter
	backlogG    *prometheus.GaugeVec
}

// NewMetrics registers the worker's metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		enqueued: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "heimdall_enrich_jobs_enqueued_total",
			Help: "Enrichment jobs created, by provider."}, []string{"provider"}),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "heimdall_enrich_cache_hits_total",
			Help: "Observations not enriched because a result (positive or negative) still stands, by provider."}, []string{"provider"}),
		coalesced: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "heimdall_enrich_jobs_coalesced_total",
			Help: "Observations not enqueued because a job for the record was already open, by provider."}, []string{"provider"}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "heimdall_enrich_results_total",
			Help: "Enrichment results appended to the log, by provider, outcome and error class."}, []string{"provider", "outcome", "class"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "heimdall_enrich_job_latency_seconds",
			Help:    "Time from a job's request to its recorded result, by provider.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}, []string{"provider"}),
		deferrals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "heimdall_enrich_jobs_deferred_total",
			Help: "Jobs put back because the provider's circuit breaker was open, by provider."}, []string{"provider"}),
		recoveredN: prometheus.NewCounter(prometheus.CounterOpts{Name: "heimdall_enrich_jobs_recovered_total",
			Help: "In-flight jobs put back to pending after a crash or an expired lease."}),
		undecodable: prometheus.NewCounter(prometheus.CounterOpts{Name: "heimdall_enrich_undecodable_records_total",
			Help: "Log records the enrichment consumer could not decode and skipped."}),
		backlogG: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "heimdall_enrich_backlog_jobs",
			Help: "Pending enrichment jobs, by provider."}, []string{"provider"}),
	}
	for _, c := range []prometheus.Collector{m.enqueued, m.cacheHits, m.coalesced, m.results, m.latency, m.deferrals, m.recoveredN, m.undecodable, m.backlogG} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// init makes every provider's series exist from the start (at zero), so
// dashboards and alerts see them before the first event.
func (m *Metrics) init(providers []string) {
	if m == nil {
		return
	}
	for _, p := range providers {
		m.enqueued.WithLabelValues(p)
		m.cacheHits.WithLabelValues(p)
		m.coalesced.WithLabelValues(p)
		m.deferrals.WithLabelValues(p)
		m.backlogG.WithLabelValues(p)
	}
}

func (m *Metrics) applied(st ApplyStats, undecodable int) {
	if m == nil {
		return
	}
	for p, n := range st.Enqueued {
		m.enqueued.WithLabelValues(p).Add(float64(n))
	}
	for p, n := range st.Fresh {
		m.cacheHits.WithLabelValues(p).Add(float64(n))
	}
	for p, n := range st.Coalesced {
		m.coalesced.WithLabelValues(p).Add(float64(n))
	}
	m.undecodable.Add(float64(undecodable))
}

func (m *Metrics) backlog(pending map[string]int64, providers []string) {
	if m == nil {
		return
	}
	for _, p := range providers {
		m.backlogG.WithLabelValues(p).Set(float64(pending[p]))
	}
}

func (m *Metrics) result(provider, outcome, class string, latency time.Duration) {
	if m == nil {
		return
	}
	m.results.WithLabelValues(provider, outcome, class).Inc()
	m.latency.WithLabelValues(provider).Observe(latency.Seconds())
}

func (m *Metrics) deferred(provider string) {
	if m != nil {
		m.deferrals.WithLabelValues(provider).Inc()
	}
}

func (m *Metrics) recovered(n int64) {
	if m != nil {
		m.recoveredN.Add(float64(n))
	}
}
