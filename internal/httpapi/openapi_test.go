package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heimdallhub/heimdall/commands/classify"
	"github.com/heimdallhub/heimdall/commands/enrich"
	"github.com/heimdallhub/heimdall/commands/ingest"
	"github.com/heimdallhub/heimdall/commands/retract"
	"github.com/heimdallhub/heimdall/commands/reveal"
	"github.com/heimdallhub/heimdall/internal/auth"
	"github.com/heimdallhub/heimdall/internal/graphstore"
	"github.com/heimdallhub/heimdall/internal/telemetry"
	"github.com/heimdallhub/heimdall/projections/audit"
	"github.com/heimdallhub/heimdall/projections/graph"
	"github.com/heimdallhub/heimdall/sync/exchange"
	"github.com/heimdallhub/heimdall/sync/export"
)

type noIngest struct{}

func (noIngest) Handle(context.Context, ingest.Command) (ingest.Result, error) {
	return ingest.Result{}, nil
}

type noGraph struct{}

func (noGraph) EntityVisible(context.Context, string, graph.Visibility) (graph.EntityView, error) {
	return graph.EntityView{}, graph.ErrNotFound
}

func (noGraph) Neighbours(context.Context, string, graph.NeighbourQuery, graph.Visibility) (graph.Neighbourhood, error) {
	return graph.Neighbourhood{}, graph.ErrNotFound
}

func (noGraph) ShortestPath(context.Context, string, string, int, graph.Visibility) ([]graph.VertexView, []graph.EdgeView, error) {
	return nil, nil, graph.ErrNotFound
}

func (noGraph) Similar(context.Context, string, string, int, graph.Visibility) ([]graph.Match, error) {
	return nil, nil
}

func (noGraph) Timeline(context.Context, string, uuid.UUID, int, graph.Visibility) ([]graph.ProvenanceRecord, error) {
	return nil, graph.ErrNotFound
}

func (noGraph) Correlate(context.Context, graph.CorrelationQuery, graph.Visibility) ([]graph.VertexView, error) {
	return nil, nil
}

func (noGraph) CoOccurrences(context.Context, string, time.Duration, int, graph.Visibility) ([]graph.CoOccurring, error) {
	return nil, graph.ErrNotFound
}

func (noGraph) RecordVisible(context.Context, string, graph.Visibility) (string, error) {
	return "", graph.ErrNotFound
}

type noClassify struct{}

func (noClassify) Handle(context.Context, classify.Command) (string, error) { return "", nil }

type noCypher struct{}

func (noCypher) Cypher(context.Context, graphstore.CypherQuery) (graphstore.CypherResult, error) {
	return graphstore.CypherResult{}, nil
}

type noRetract struct{}

func (noRetract) Handle(context.Context, retract.Command) (string, error) { return "", nil }

type noAudit struct{}

func (noAudit) Entries(context.Context, audit.Query) ([]audit.Entry, error) { return nil, nil }

type noKeys struct{}

func (noKeys) Keys(string, string) (string, string, error) { return "", "", graph.ErrNotFound }

type noDecrypt struct{}

func (noDecrypt) Handle(context.Context, reveal.Command) ([]reveal.Revealed, error) { return nil, nil }

type noEnrich struct{}

func (noEnrich) Handle(context.Context, enrich.Request) ([]string, error) { return nil, nil }

func (noEnrich) Enrichments(context.Context, string, graph.Visibility) ([]graphstore.EnrichmentView, error) {
	return nil, graph.ErrNotFound
}

type noSync struct{}

func (noSync) Peer(context.Context, string) (exchange.Peer, error) {
	return exchange.Peer{}, export.ErrUnknownPeer
}

func (noSync) Export(context.Context, exchange.Peer, export.Request, io.Writer, func()) (export.Stats, error) {
	return export.Stats{}, nil
}

type noVerifier struct{}

func (noVerifier) Verify(context.Context, string) (auth.Principal, error) {
	return auth.Principal{}, auth.ErrNoToken
}

// fullServer has every route.
func fullServer() *Server {
	return New(Options{
		Logger: telemetry.NewLogger(io.Discard, "error"), Registry: prometheus.NewRegistry(), Verifier: noVerifier{},
		Ingest: noIngest{}, Entities: noGraph{}, Similar: noGraph{}, Correlate: noGraph{}, Audit: noAudit{}, Classify: noClassify{}, Records: noGraph{}, Retract: noRetract{}, Cypher: noCypher{}, Decrypt: noDecrypt{}, Keys: noKeys{}, Enrich: noEnrich{}, EnrichmentViews: noEnrich{}, Sync: noSync{}, Ready: map[string]func(context.Context) error{},
	})
}

var echoParam = regexp.MustCompile(`:([a-z_]+)`)

// Every route is in the OpenAPI document with its method, and every
// operation of the document is a route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	inDoc := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			inDoc[strings.ToUpper(method)+" "+path] = true
		}
	}
	routes := map[string]bool{}
	for _, r := range fullServer().e.Routes() {
		if r.Path == "" || strings.HasSuffix(r.Path, "/*") || r.Method == "echo_route_not_found" {
			continue // echo's internal not-found routes
		}
		routes[r.Method+" "+echoParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	var missing, extra []string
	for r := range routes {
		if !inDoc[r] {
			missing = append(missing, r)
		}
	}
	for op := range inDoc {
		if !routes[op] {
			extra = append(extra, op)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes not in openapi.json: %v\noperations that are no route: %v", missing, extra)
	}
	// Served as is.
	rec := httptest.NewRecorder()
	fullServer().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/openapi.json", nil))
	if rec.Code != http.StatusOK || !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("GET /v1/openapi.json: %d", rec.Code)
	}
	// Unauthenticated calls are problem+json 401s.
	rec = httptest.NewRecorder()
	fullServer().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/entities/ipv4-addr--00000000-0000-5000-8000-000000000000", nil))
	if rec.Code != http.StatusUnauthorized || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
		t.Fatalf("unauthenticated: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
}
