package enrichstore

import (
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/heimdallhub/heimdall/commands/enrich"
	"github.com/heimdallhub/heimdall/internal/enrichment"
	"github.com/heimdallhub/heimdall/internal/enrichment/resilient"
)

// BenchmarkEnrichmentThroughput measures the enrichment worker end to end
// against the real PostgreSQL: observations consumed into jobs (offsets in
// the same transaction), claimed, a fast in-process provider called through
// the whole resilience stack, results appended and completed, for 5,000
// distinct addresses. It reports entities/s.
func BenchmarkEnrichmentThroughput(b *testing.B) {
	for range b.N {
		runThroughput(b, 5000)
	}
}

func runThroughput(b *testing.B, n int) {
	b.StopTimer()
	f := newFixture(b)
	for i := range n {
		f.observe(ipOf(i))
	}
	fast := &stubProvider{name: "fast"}
	rp, err := resilient.Wrap(enrichment.Counted(fast), resilient.Policy{Rate: float64(rate.Inf), Burst: 1, Concurrency: 16, Timeout: 5 * time.Second}, nil)
	if err != nil {
		b.Fatal(err)
	}
	w := f.worker("bench", enrich.Options{MaxBacklog: 100000}, enrich.ProviderSpec{Provider: rp, Concurrency: 16})
	b.StartTimer()
	start := time.Now()
	stop := f.run(w, 1000)
	f.waitResults(n, 5*time.Minute)
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	b.ReportMetric(float64(n)/elapsed.Seconds(), "entities/s")
	b.ReportMetric(float64(elapsed.Microseconds())/float64(n), "µs/entity")
}
