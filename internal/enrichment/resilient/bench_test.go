package resilient

import (
	"context"
	"math"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

var benchReq = enrichment.Request{Key: "ipv4-addr:" + lookedUp, Kind: "ipv4-addr", Value: lookedUp}

// fixed is an in-process provider answering at once: a fixed result, or
// err.
type fixed struct {
	err   error
	calls atomic.Int32
}

func (*fixed) Name() string    { return "fixed" }
func (*fixed) Type() string    { return "test" }
func (*fixed) Kinds() []string { return []string{"ipv4-addr"} }

var fixedResult = enrichment.Result{Attributes: []enrichment.Attribute{{Name: "country", Value: "NL"}}}

func (f *fixed) Enrich(context.Context, enrichment.Request) (enrichment.Result, error) {
	f.calls.Add(1)
	if f.err != nil {
		return enrichment.Result{}, f.err
	}
	return fixedResult, nil
}

// BenchmarkResilienceOverhead compares calling a provider directly with
// calling it through the resilience stack (no rate limit), without and
// with metrics: the difference is the stack's cost per call.
func BenchmarkResilienceOverhead(b *testing.B) {
	pol := Policy{Rate: math.Inf(1), Concurrency: 64}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	bare, err := Wrap(&fixed{}, pol, nil)
	if err != nil {
		b.Fatal(err)
	}
	metered, err := Wrap(&fixed{}, pol, m)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		p    enrichment.Provider
	}{{"direct", &fixed{}}, {"wrapped", bare}, {"wrapped_with_metrics", metered}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.p.Enrich(ctx, benchReq); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"_parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := c.p.Enrich(ctx, benchReq); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
