package resilient

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// gathered returns the value of the series of metric name with the given
// label pairs (name, value, ...) as reg exposes it: a counter's or gauge's
// value, a histogram's sample count; zero when there is no such series.
// (prometheus/testutil needs a module go.mod does not require, so the
// tests read the registry the way a scrape does.)
func gathered(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// metric returns the value of the harness provider's series of name.
func (h *harness) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	return gathered(t, h.reg, name, append([]string{"provider", "fake-http"}, labels...)...)
}
