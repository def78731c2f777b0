package resilient

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

var metricNames = []string{
	"heimdall_enrich_provider_calls_total",
	"heimdall_enrich_provider_call_duration_seconds",
	"heimdall_enrich_provider_errors_total",
	"heimdall_enrich_provider_retries_total",
	"heimdall_enrich_provider_breaker_state",
	"heimdall_enrich_provider_breaker_transitions_total",
	"heimdall_enrich_provider_rate_limit_waits_total",
	"heimdall_enrich_provider_rate_limit_wait_seconds_total",
	"heimdall_enrich_provider_in_flight",
}

// TestMetrics proves that every metric is exposed after some traffic, the
// names pass the Prometheus linter, outcomes are counted, and no label
// holds the looked-up value.
func TestMetrics(t *testing.T) {
	var failing atomic.Bool
	pol := fast()
	pol.MaxAttempts, pol.BreakerFailures, pol.Rate, pol.Burst = 2, 2, 50, 1
	h := newHarness(t, switchable(&failing), pol)
	ctx := testCtx(t)
	for range 3 {
		if _, err := lookup(ctx, h.p); err != nil {
			t.Fatal(err)
		}
	}
	failing.Store(true)
	_, _ = lookup(ctx, h.p) // two 500s open the breaker

	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		seen[mf.GetName()] = true
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if strings.Contains(lp.GetValue(), lookedUp) {
					t.Errorf("%s has label %s=%q: the looked-up value", mf.GetName(), lp.GetName(), lp.GetValue())
				}
			}
		}
	}
	for _, n := range metricNames {
		if !seen[n] {
			t.Errorf("metric %s is not exposed", n)
		}
	}
	for outcome, want := range map[string]float64{"ok": 3, "not_found": 0, "error": 1} {
		if got := h.metric(t, "heimdall_enrich_provider_calls_total", "outcome", outcome); got != want {
			t.Errorf("calls with outcome %s = %v, want %v", outcome, got, want)
		}
	}
	if got := h.metric(t, "heimdall_enrich_provider_call_duration_seconds"); got != 5 {
		t.Errorf("attempt durations observed = %v, want 5", got)
	}
	if got := h.metric(t, "heimdall_enrich_provider_breaker_state"); got != 2 {
		t.Errorf("breaker state gauge = %v, want 2 (open)", got)
	}
}

// TestNewMetrics proves that a second NewMetrics on the same registry
// shares the collectors, and that a registry without one is refused.
func TestNewMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewMetrics(reg)
	if err != nil {
		t.Fatalf("second NewMetrics on one registry: %v", err)
	}
	if a.calls != b.calls || a.inFlight != b.inFlight {
		t.Error("the second NewMetrics did not share the registered collectors")
	}
	if _, err := NewMetrics(nil); err == nil {
		t.Error("NewMetrics(nil) succeeded")
	}
	clash := prometheus.NewRegistry()
	clash.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "heimdall_enrich_provider_retries_total", Help: "a clash"}))
	if _, err := NewMetrics(clash); err == nil {
		t.Error("NewMetrics succeeded on a registry with a clashing metric")
	}
}

// TestNilMetrics proves that a provider wrapped without metrics works,
// through success, failure and the breaker opening.
func TestNilMetrics(t *testing.T) {
	pol := fast()
	pol.BreakerFailures = 1
	p, err := Wrap(&fixed{}, pol, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Enrich(context.Background(), benchReq); err != nil {
		t.Fatal(err)
	}
	q, err := Wrap(&fixed{err: errors.New("down")}, pol, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, _ = q.Enrich(context.Background(), benchReq)
	}
	if s := q.BreakerState(); s != "open" {
		t.Errorf("breaker %s, want open", s)
	}
}
