package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/heimdallhub/heimdall/internal/observable"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// SimilarReader finds look-alikes of a domain or URL.
type SimilarReader interface {
	Similar(ctx context.Context, kind, value string, limit int, vis graph.Visibility) ([]graph.Match, error)
}

// SimilarResponse is the JSON shape of GET /v1/similar.
type SimilarResponse struct {
	Query   string          `json:"query"`
	Kind    string          `json:"kind"`
	Matches []MatchResponse `json:"matches"`
}

// MatchResponse is one look-alike.
type MatchResponse struct {
	VertexResponse
	Similarity float64 `json:"similarity"`
}

// maxSimilar mirrors graphstore's bound.
const maxSimilar = 200

// similar serves GET /v1/similar?domain=…|url=…&limit=1..200: the vertices
// whose values look most like the query (typosquats, homoglyphs), best
// first, among those the caller may see.
func (s *Server) similar(c echo.Context) error {
	kind, raw := "", ""
	switch d, u := c.QueryParam("domain"), c.QueryParam("url"); {
	case d != "" && u == "":
		kind, raw = string(observable.KindDomainName), d
	case u != "" && d == "":
		kind, raw = string(observable.KindURL), u
	default:
		return problem(http.StatusBadRequest, "name exactly one of domain and url")
	}
	limit := 20
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxSimilar {
			return problem(http.StatusBadRequest, fmt.Sprintf("limit must be 1 to %d", maxSimilar))
		}
		limit = n
	}
	o, err := observable.Canonicalize(observable.Kind(kind), raw)
	if err != nil {
		return problem(http.StatusBadRequest, "the value is not a valid "+kind)
	}
	ms, err := s.opts.Similar.Similar(c.Request().Context(), kind, o.Value, limit, visibility(c))
	if err != nil {
		return fmt.Errorf("searching look-alikes: %w", err)
	}
	out := SimilarResponse{Query: o.Value, Kind: kind, Matches: make([]MatchResponse, 0, len(ms))}
	vs := make([]graph.VertexView, len(ms))
	for i, m := range ms {
		vs[i] = m.Vertex
	}
	rendered, _ := viewResponses(vs, nil)
	for i, m := range ms {
		out.Matches = append(out.Matches, MatchResponse{VertexResponse: rendered[i], Similarity: m.Similarity})
	}
	return c.JSON(http.StatusOK, out)
}
