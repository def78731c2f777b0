package telemetry

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TraceExport says where spans go.
type TraceExport struct {
	// URL is the OTLP/HTTP traces endpoint of a collector
	// (https://collector:4318/v1/traces); empty keeps spans in-process only
	// (their ids still travel in traceparent headers).
	URL string
	// TLS is the client configuration (TLS 1.3, the deployment's CA).
	TLS *tls.Config
	// Service and Instance name this process in the spans' resource.
	Service, Instance string
}

// NewTracerProvider returns the tracer provider Heimdall's components use.
// Spans get real trace and span ids, so W3C traceparent headers carried on
// Kafka records link a record to the request that wrote it; with an export
// URL they are batched to an OTLP/HTTP collector over TLS. Spans carry
// route templates, ids and counts, never request bodies or field values.
func NewTracerProvider(ctx context.Context, x TraceExport) (*sdktrace.TracerProvider, error) {
	opts := []sdktrace.TracerProviderOption{sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample()))}
	if x.URL != "" {
		exp, err := otlptracehttp.New(ctx,
			otlptracehttp.WithEndpointURL(x.URL),
			otlptracehttp.WithTLSClientConfig(x.TLS),
			otlptracehttp.WithTimeout(10*time.Second),
		)
		if err != nil {
			return nil, fmt.Errorf("trace exporter: %w", err)
		}
		service := x.Service
		if service == "" {
			service = "heimdall"
		}
		res := resource.NewSchemaless(
			attribute.String("service.name", service),
			attribute.String("service.instance.id", x.Instance),
		)
		opts = append(opts, sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)), sdktrace.WithResource(res))
	}
	return sdktrace.NewTracerProvider(opts...), nil
}

// Propagator is the W3C trace-context propagator used on HTTP and Kafka.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Tracer is the tracer of a component.
func Tracer(tp trace.TracerProvider, component string) trace.Tracer {
	return tp.Tracer("github.com/heimdallhub/heimdall/" + component)
}
