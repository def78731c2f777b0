package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heimdallhub/heimdall/projections/graph"
)

// visibility is what the caller may see: the levels up to the clearance
// their token's clearance claim carries; a caller without a known clearance
// sees nothing.
func visibility(c echo.Context) graph.Visibility {
	sub := subject(c)
	if sub.ClearanceRank < 0 {
		return graph.Visibility{}
	}
	return graph.ClearedFor(sub.Clearance)
}

// VertexResponse is one vertex of a neighbourhood.
type VertexResponse struct {
	Key            string     `json:"key"`
	Label          string     `json:"label"`
	Kind           string     `json:"kind"`
	Value          string     `json:"value"`
	FirstSeen      *time.Time `json:"first_seen,omitempty"`
	LastSeen       *time.Time `json:"last_seen,omitempty"`
	Sources        []string   `json:"sources"`
	Classification string     `json:"classification,omitempty"`
	Depth          int        `json:"depth"`
}

// EdgeResponse is one edge of a neighbourhood.
type EdgeResponse struct {
	Key            string              `json:"key"`
	Type           string              `json:"type"`
	Source         string              `json:"source"`
	Target         string              `json:"target"`
	FirstSeen      time.Time           `json:"first_seen"`
	LastSeen       time.Time           `json:"last_seen"`
	Sources        []string            `json:"sources"`
	Attributes     map[string][]string `json:"attributes"`
	Classification string              `json:"classification"`
}

// NeighboursResponse is the JSON shape of GET /v1/entities/{key}/neighbours.
type NeighboursResponse struct {
	Root      string           `json:"root"`
	Depth     int              `json:"depth"`
	Vertices  []VertexResponse `json:"vertices"`
	Edges     []EdgeResponse   `json:"edges"`
	Truncated bool             `json:"truncated"`
}

var validLabel = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,62}$`)

// neighbours serves GET /v1/entities/{key}/neighbours?depth=1..3&label=A,B&limit=1..5000.
func (s *Server) neighbours(c echo.Context) error {
	key := c.Param("key")
	if !validKey.MatchString(key) {
		return problem(http.StatusBadRequest, "not a canonical key (<type>--<uuid>)")
	}
	q := graph.NeighbourQuery{Depth: 1, Limit: 500}
	if v := c.QueryParam("depth"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > graph.MaxNeighbourDepth {
			return problem(http.StatusBadRequest, fmt.Sprintf("depth must be 1 to %d", graph.MaxNeighbourDepth))
		}
		q.Depth = n
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > graph.MaxNeighbourLimit {
			return problem(http.StatusBadRequest, fmt.Sprintf("limit must be 1 to %d", graph.MaxNeighbourLimit))
		}
		q.Limit = n
	}
	if v := c.QueryParam("label"); v != "" {
		for _, l := range strings.Split(v, ",") {
			if !validLabel.MatchString(l) {
				return problem(http.StatusBadRequest, "label must be relation types like RESOLVES_TO, comma-separated")
			}
			q.Labels = append(q.Labels, l)
		}
	}
	n, err := s.opts.Entities.Neighbours(c.Request().Context(), key, q, visibility(c))
	if errors.Is(err, graph.ErrNotFound) {
		return problem(http.StatusNotFound, "no entity with this key")
	}
	if err != nil {
		return fmt.Errorf("reading neighbours: %w", err)
	}
	out := NeighboursResponse{Root: n.Root, Depth: q.Depth, Truncated: n.Truncated}
	out.Vertices, out.Edges = viewResponses(n.Vertices, n.Edges)
	return c.JSON(http.StatusOK, out)
}

// viewResponses renders vertices and edges.
func viewResponses(vs []graph.VertexView, es []graph.EdgeView) ([]VertexResponse, []EdgeResponse) {
	vertices, edges := make([]VertexResponse, 0, len(vs)), make([]EdgeResponse, 0, len(es))
	for _, v := range vs {
		r := VertexResponse{Key: v.Key, Label: v.Label, Kind: v.Kind, Value: v.Value, Sources: v.Sources,
			Classification: v.Classification, Depth: v.Depth}
		if !v.FirstSeen.IsZero() {
			fs, ls := v.FirstSeen, v.LastSeen
			r.FirstSeen, r.LastSeen = &fs, &ls
		}
		if r.Sources == nil {
			r.Sources = []string{}
		}
		vertices = append(vertices, r)
	}
	for _, e := range es {
		r := EdgeResponse{Key: e.Key, Type: e.Type, Source: e.Source, Target: e.Target, FirstSeen: e.FirstSeen,
			LastSeen: e.LastSeen, Sources: e.Sources, Attributes: map[string][]string(e.Attributes), Classification: e.Classification}
		if r.Sources == nil {
			r.Sources = []string{}
		}
		if r.Attributes == nil {
			r.Attributes = map[string][]string{}
		}
		edges = append(edges, r)
	}
	return vertices, edges
}

// PathResponse is the JSON shape of GET /v1/paths.
type PathResponse struct {
	From     string           `json:"from"`
	To       string           `json:"to"`
	Hops     int              `json:"hops"`
	Vertices []VertexResponse `json:"vertices"` // from ... to, in order
	Edges    []EdgeResponse   `json:"edges"`    // edge i joins vertex i and i+1
}

// maxPathDepth mirrors graphstore's bound for the API's validation.
const maxPathDepth = 6

// path serves GET /v1/paths?from=KEY&to=KEY&max_depth=1..6: a shortest path
// through what the caller may see.
func (s *Server) path(c echo.Context) error {
	from, to := c.QueryParam("from"), c.QueryParam("to")
	if !validKey.MatchString(from) || !validKey.MatchString(to) {
		return problem(http.StatusBadRequest, "from and to must be canonical keys (<type>--<uuid>)")
	}
	depth := 4
	if v := c.QueryParam("max_depth"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPathDepth {
			return problem(http.StatusBadRequest, fmt.Sprintf("max_depth must be 1 to %d", maxPathDepth))
		}
		depth = n
	}
	vs, es, err := s.opts.Entities.ShortestPath(c.Request().Context(), from, to, depth, visibility(c))
	if errors.Is(err, graph.ErrNotFound) {
		return problem(http.StatusNotFound, "no path between these entities within max_depth hops")
	}
	if err != nil {
		return fmt.Errorf("finding a path: %w", err)
	}
	out := PathResponse{From: from, To: to, Hops: len(es)}
	out.Vertices, out.Edges = viewResponses(vs, es)
	return c.JSON(http.StatusOK, out)
}
