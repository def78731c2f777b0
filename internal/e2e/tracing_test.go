package e2e

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/heimdallhub/heimdall/internal/observable"
)

// receivedSpan is one span the OTLP receiver got, with its process.
type receivedSpan struct {
	name, instance        string
	traceID, id, parentID string
}

// spans decodes every OTLP/HTTP export request the sink received (protobuf
// ExportTraceServiceRequest, the OTLP wire format).
func (s *otlpSink) spans(t *testing.T) []receivedSpan {
	t.Helper()
	s.mu.Lock()
	bodies := append([][]byte(nil), s.bodies...)
	s.mu.Unlock()
	var out []receivedSpan
	for _, b := range bodies {
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Fatalf("the receiver got a body that is not OTLP protobuf: %v", err)
		}
		for _, rs := range req.ResourceSpans {
			instance := ""
			for _, a := range rs.GetResource().GetAttributes() {
				if a.Key == "service.instance.id" {
					instance = a.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					out = append(out, receivedSpan{name: sp.Name, instance: instance, traceID: hex.EncodeToString(sp.TraceId),
						id: hex.EncodeToString(sp.SpanId), parentID: hex.EncodeToString(sp.ParentSpanId)})
				}
			}
		}
	}
	return out
}

// TestOneIngestOneTrace: one ingest request becomes one trace across
// processes: the API's request span, the projector's span for the events it
// wrote (carried by the Kafka records' traceparent), the enrichment worker's
// call (the job keeps the trace of the record that caused it), and the
// projector's span for the enrichment result it appended, all collected by
// an OTLP/HTTP receiver over TLS 1.3.
func TestOneIngestOneTrace(t *testing.T) {
	in := newInstance(t)
	sink := newOTLPSink(t, in.st)
	city, asn := writeGeoDatabases(t, t.TempDir())
	providers := filepath.Join(t.TempDir(), "providers.yaml")
	if err := os.WriteFile(providers, []byte(fmt.Sprintf("providers:\n  - name: geo\n    type: geoip\n    geoip: {databases: [%q, %q]}\n", city, asn)), 0o600); err != nil {
		t.Fatal(err)
	}
	in.env["HEIMDALL_OTLP_TRACES_URL"] = sink.url
	in.serve("api", map[string]string{"HEIMDALL_COMPONENTS": "api,ingest"})
	in.start("workers", map[string]string{"HEIMDALL_COMPONENTS": "projector,enricher", "HEIMDALL_ENRICH_PROVIDERS": providers}, "serve")

	const traceID = "5cf92f3577b34da6a3ce929d0e0e4799"
	code, _, err := in.ingest(dnsLines(0, 3), "source=traced&format=ndjson&profile=generic", map[string]string{
		"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01",
	})
	if err != nil || code != http.StatusOK {
		t.Fatalf("ingest: %d %v", code, err)
	}
	for i := range 3 {
		in.waitEnriched(keyOf(t, observable.KindIPv4Addr, enrichIP(i)), []string{"geo"}, 90*time.Second)
	}
	in.waitProjected(in.store(), time.Minute)

	var api, project, enrich, projectResult *receivedSpan
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		api, project, enrich, projectResult = nil, nil, nil, nil
		spans := sink.spans(t)
		for i := range spans {
			s := &spans[i]
			if s.traceID != traceID {
				continue
			}
			switch s.name {
			case "POST /v1/ingest":
				api = s
			case "enrich geo":
				enrich = s
			}
		}
		for i := range spans {
			s := &spans[i]
			if s.traceID != traceID || s.name != "graph.project" {
				continue
			}
			if api != nil && s.parentID == api.id {
				project = s
			}
			if enrich != nil && s.parentID == enrich.id {
				projectResult = s
			}
		}
		if api != nil && project != nil && enrich != nil && projectResult != nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if api == nil || project == nil || enrich == nil || projectResult == nil {
		t.Fatalf("trace %s incomplete: api %v, projection %v, enrichment %v, projection of the result %v\nspans: %+v",
			traceID, api, project, enrich, projectResult, sink.spans(t))
	}
	if api.parentID != "00f067aa0ba902b7" {
		t.Errorf("the API span's parent is %s, not the caller's span", api.parentID)
	}
	if enrich.parentID != api.id {
		t.Errorf("the enrichment span's parent is %s, want the API span %s", enrich.parentID, api.id)
	}
	if api.instance == project.instance || project.instance != enrich.instance {
		t.Errorf("processes: api %q, projector %q, enricher %q", api.instance, project.instance, enrich.instance)
	}
}
