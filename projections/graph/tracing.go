package graph

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/heimdallhub/heimdall/events"
)

// WithTracer makes the projector continue the traces its records carry (the
// W3C traceparent header the writer set): for each distinct trace in a batch
// it records one "graph.project" span, a child of the span that wrote the
// records, covering the batch's transaction. Spans are per batch and trace,
// not per record, so a bulk load costs a handful of spans per batch.
func WithTracer(t trace.Tracer) Option { return func(p *Projector) { p.tracer = t } }

var traceContext = propagation.TraceContext{}

// traceSpans starts one span per distinct trace context among records and
// returns a function ending them with the batch's outcome.
func traceSpans(ctx context.Context, t trace.Tracer, name string, records []events.LogRecord, attrs ...attribute.KeyValue) func(error) {
	if t == nil {
		return func(error) {}
	}
	type group struct {
		ctx   context.Context
		count int
	}
	groups := map[string]*group{}
	var order []string
	for _, r := range records {
		tp := r.Headers["traceparent"]
		if tp == "" {
			continue
		}
		g := groups[tp]
		if g == nil {
			sc := trace.SpanContextFromContext(traceContext.Extract(ctx, propagation.MapCarrier{"traceparent": tp}))
			if !sc.IsValid() {
				continue
			}
			g = &group{ctx: trace.ContextWithRemoteSpanContext(ctx, sc)}
			groups[tp] = g
			order = append(order, tp)
		}
		g.count++
	}
	spans := make([]trace.Span, 0, len(order))
	for _, tp := range order {
		g := groups[tp]
		_, span := t.Start(g.ctx, name, trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(append(attrs, attribute.Int("heimdall.records", g.count), attribute.Int("heimdall.batch_records", len(records)))...))
		spans = append(spans, span)
	}
	return func(err error) {
		for _, s := range spans {
			if err != nil {
				s.RecordError(err)
			}
			s.End()
		}
	}
}
