package telemetry

import (
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// NewTracerProvider returns the tracer provider Heimdall's components use.
// Spans get real trace and span ids, so W3C traceparent headers carried on
// Kafka records link a record to the request that wrote it; exporting spans
// to a collector is configured separately.
func NewTracerProvider() *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
}

// Propagator is the W3C trace-context propagator used on HTTP and Kafka.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Tracer is the tracer of a component.
func Tracer(tp trace.TracerProvider, component string) trace.Tracer {
	return tp.Tracer("github.com/heimdallhub/heimdall/" + component)
}
