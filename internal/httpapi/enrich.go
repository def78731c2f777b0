package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/heimdallhub/heimdall/commands/enrich"
	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/graphstore"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// Enricher runs the re-enrichment command.
type Enricher interface {
	Handle(ctx context.Context, req enrich.Request) ([]string, error)
}

// EnrichmentReader reads the enrichment view of a record.
type EnrichmentReader interface {
	Enrichments(ctx context.Context, key string, vis graph.Visibility) ([]graphstore.EnrichmentView, error)
}

// EnrichmentRequest is the body of POST /v1/enrichments.
type EnrichmentRequest struct {
	Keys      []string `json:"keys"`
	Providers []string `json:"providers"`
	Reason    string   `json:"reason"`
}

// EnrichmentRequestResponse acknowledges a re-enrichment request (202: in
// the log; workers pick it up).
type EnrichmentRequestResponse struct {
	RequestID string   `json:"request_id"`
	EventIDs  []string `json:"event_ids"`
	Keys      []string `json:"keys"`
	Providers []string `json:"providers"`
}

// EnrichmentsResponse is the JSON shape of GET /v1/entities/{key}/enrichments.
type EnrichmentsResponse struct {
	Key         string                      `json:"key"`
	Enrichments []graphstore.EnrichmentView `json:"enrichments"`
}

// requestEnrichment serves POST /v1/enrichments.
func (s *Server) requestEnrichment(c echo.Context) error {
	actor, err := writer(c)
	if err != nil {
		return err
	}
	var req EnrichmentRequest
	if err := decodeBody(c, 256<<10, &req, "{keys: [record keys], providers: [names], reason}"); err != nil {
		return err
	}
	if len(req.Keys) == 0 || len(req.Keys) > enrich.MaxRequestRecords {
		return problem(http.StatusBadRequest, fmt.Sprintf("name 1 to %d record keys", enrich.MaxRequestRecords))
	}
	if known := s.opts.EnrichProviders; len(known) > 0 {
		for _, p := range req.Providers {
			if !slices.Contains(known, p) {
				return problem(http.StatusBadRequest, "unknown provider; configured: "+fmt.Sprint(known))
			}
		}
	}
	vis := visibility(c)
	recs := make([]enrich.Record, 0, len(req.Keys))
	seen := map[string]bool{}
	for _, key := range req.Keys {
		if !validKey.MatchString(key) {
			return problem(http.StatusBadRequest, "not a canonical key (<type>--<uuid>)")
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		v, err := s.opts.Entities.EntityVisible(c.Request().Context(), key, vis)
		if errors.Is(err, graph.ErrNotFound) {
			return problem(http.StatusNotFound, "one of the keys names no entity you may see")
		}
		if err != nil {
			return fmt.Errorf("reading entity: %w", err)
		}
		recs = append(recs, enrich.Record{Subject: events.Endpoint{Key: v.Key, Kind: v.Kind, Value: v.Value}, Classification: v.Classification})
	}
	ids, err := s.opts.Enrich.Handle(c.Request().Context(), enrich.Request{
		Actor: actor, RequestID: requestID(c), Records: recs, Providers: req.Providers, Reason: req.Reason, Headers: commandHeaders(c),
	})
	switch {
	case errors.Is(err, enrich.ErrBadRequest):
		return problem(http.StatusBadRequest, err.Error())
	case errors.Is(err, enrich.ErrLogUnavailable):
		return problem(http.StatusServiceUnavailable, "the event log did not acknowledge the request; retry")
	case err != nil:
		return fmt.Errorf("requesting enrichment: %w", err)
	}
	keys := make([]string, len(recs))
	for i, r := range recs {
		keys[i] = r.Subject.Key
	}
	providers := req.Providers
	if providers == nil {
		providers = []string{}
	}
	return c.JSON(http.StatusAccepted, EnrichmentRequestResponse{RequestID: requestID(c), EventIDs: ids, Keys: keys, Providers: providers})
}

// enrichments serves GET /v1/entities/{key}/enrichments.
func (s *Server) enrichments(c echo.Context) error {
	key := c.Param("key")
	if !validKey.MatchString(key) {
		return problem(http.StatusBadRequest, "not a canonical key (<type>--<uuid>)")
	}
	vs, err := s.opts.EnrichmentViews.Enrichments(c.Request().Context(), key, visibility(c))
	if errors.Is(err, graph.ErrNotFound) {
		return problem(http.StatusNotFound, "no entity with this key")
	}
	if err != nil {
		return fmt.Errorf("reading enrichments: %w", err)
	}
	return c.JSON(http.StatusOK, EnrichmentsResponse{Key: key, Enrichments: vs})
}
