package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/heimdallhub/heimdall/projections/graph"
)

// Correlator answers the correlation and history questions.
type Correlator interface {
	Timeline(ctx context.Context, key string, before uuid.UUID, limit int, vis graph.Visibility) ([]graph.ProvenanceRecord, error)
	Correlate(ctx context.Context, q graph.CorrelationQuery, vis graph.Visibility) ([]graph.VertexView, error)
	CoOccurrences(ctx context.Context, key string, window time.Duration, limit int, vis graph.Visibility) ([]graph.CoOccurring, error)
}

// maxPage mirrors graphstore's page bound.
const maxPage = 1000

var validName64 = regexp.MustCompile(`^[A-Za-z0-9._:@/ -]{1,256}$`)

func pageLimit(c echo.Context, def int) (int, error) {
	v := c.QueryParam("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPage {
		return 0, problem(http.StatusBadRequest, fmt.Sprintf("limit must be 1 to %d", maxPage))
	}
	return n, nil
}

// TimelineResponse is the JSON shape of GET /v1/entities/{key}/timeline.
type TimelineResponse struct {
	Key    string            `json:"key"`
	Events []ProvenanceEntry `json:"events"` // newest first
	// Next continues the listing (pass it as before=); empty at the end.
	Next string `json:"next,omitempty"`
}

// timeline serves GET /v1/entities/{key}/timeline?limit=&before=EVENT_ID.
func (s *Server) timeline(c echo.Context) error {
	key := c.Param("key")
	if !validKey.MatchString(key) { // entity or relationship key
		return problem(http.StatusBadRequest, "not a canonical key (<type>--<uuid>)")
	}
	limit, err := pageLimit(c, 100)
	if err != nil {
		return err
	}
	before := uuid.Nil
	if v := c.QueryParam("before"); v != "" {
		if before, err = uuid.Parse(v); err != nil {
			return problem(http.StatusBadRequest, "before must be an event id from the previous page")
		}
	}
	ps, err := s.opts.Correlate.Timeline(c.Request().Context(), key, before, limit, visibility(c))
	if errors.Is(err, graph.ErrNotFound) {
		return problem(http.StatusNotFound, "no entity with this key")
	}
	if err != nil {
		return fmt.Errorf("reading the timeline: %w", err)
	}
	out := TimelineResponse{Key: key, Events: provenanceEntries(ps)}
	if len(ps) == limit {
		out.Next = ps[len(ps)-1].EventID.String()
	}
	return c.JSON(http.StatusOK, out)
}

// VerticesResponse is a page of vertices.
type VerticesResponse struct {
	Vertices []VertexResponse `json:"vertices"`
	// Next continues the listing (pass it as after=); empty at the end.
	Next string `json:"next,omitempty"`
}

// correlations serves GET /v1/correlations?min_sources=&source=&source=&batch=&kind=&after=&limit=:
// entities seen by at least k distinct sources, or by every named source or
// batch.
func (s *Server) correlations(c echo.Context) error {
	limit, err := pageLimit(c, 100)
	if err != nil {
		return err
	}
	q := graph.CorrelationQuery{Limit: limit, Kind: c.QueryParam("kind"), After: c.QueryParam("after")}
	if v := c.QueryParam("min_sources"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return problem(http.StatusBadRequest, "min_sources must be 1 to 1000")
		}
		q.MinSources = n
	}
	params := c.QueryParams()
	q.Sources, q.Batches = params["source"], params["batch"]
	for _, v := range append(append([]string{}, q.Sources...), q.Batches...) {
		if !validName64.MatchString(v) {
			return problem(http.StatusBadRequest, "source and batch must be names of 1 to 256 plain characters")
		}
	}
	if q.MinSources == 0 && len(q.Sources) == 0 && len(q.Batches) == 0 {
		return problem(http.StatusBadRequest, "name min_sources, source (repeatable) or batch (repeatable)")
	}
	if q.Kind != "" && !validLabelKind.MatchString(q.Kind) {
		return problem(http.StatusBadRequest, "kind must be an observable kind such as ipv4-addr")
	}
	if q.After != "" && !validKey.MatchString(q.After) {
		return problem(http.StatusBadRequest, "after must be a key from the previous page")
	}
	vs, err := s.opts.Correlate.Correlate(c.Request().Context(), q, visibility(c))
	if err != nil {
		return fmt.Errorf("correlating: %w", err)
	}
	out := VerticesResponse{}
	out.Vertices, _ = viewResponses(vs, nil)
	if len(vs) == limit {
		out.Next = vs[len(vs)-1].Key
	}
	return c.JSON(http.StatusOK, out)
}

var validLabelKind = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)

// CoOccurrenceResponse is the JSON shape of GET /v1/entities/{key}/cooccurring.
type CoOccurrenceResponse struct {
	Key      string              `json:"key"`
	Window   string              `json:"window"`
	Entities []CoOccurringEntity `json:"entities"`
}

// CoOccurringEntity is one entity seen near the root in time.
type CoOccurringEntity struct {
	VertexResponse
	Count int64 `json:"count"`
}

// cooccurring serves GET /v1/entities/{key}/cooccurring?window=10m&limit=:
// entities the same sources observed within window of the entity's own
// observations, most frequent first.
func (s *Server) cooccurring(c echo.Context) error {
	key := c.Param("key")
	if !validKey.MatchString(key) {
		return problem(http.StatusBadRequest, "not a canonical key (<type>--<uuid>)")
	}
	limit, err := pageLimit(c, 50)
	if err != nil {
		return err
	}
	window := 5 * time.Minute
	if v := c.QueryParam("window"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > 7*24*time.Hour {
			return problem(http.StatusBadRequest, "window must be a duration up to 168h, for example 10m")
		}
		window = d
	}
	cs, err := s.opts.Correlate.CoOccurrences(c.Request().Context(), key, window, limit, visibility(c))
	if errors.Is(err, graph.ErrNotFound) {
		return problem(http.StatusNotFound, "no entity with this key")
	}
	if err != nil {
		return fmt.Errorf("co-occurrences: %w", err)
	}
	vs := make([]graph.VertexView, len(cs))
	for i, co := range cs {
		vs[i] = co.Vertex
	}
	rendered, _ := viewResponses(vs, nil)
	out := CoOccurrenceResponse{Key: key, Window: window.String(), Entities: make([]CoOccurringEntity, 0, len(cs))}
	for i, co := range cs {
		out.Entities = append(out.Entities, CoOccurringEntity{VertexResponse: rendered[i], Count: co.Count})
	}
	return c.JSON(http.StatusOK, out)
}
