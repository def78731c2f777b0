package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heimdallhub/heimdall/internal/graphstore"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// CypherRunner runs read-only Cypher on the active graph.
type CypherRunner interface {
	Cypher(ctx context.Context, q graphstore.CypherQuery) (graphstore.CypherResult, error)
}

// CypherRequest is the body of POST /v1/cypher.
type CypherRequest struct {
	Query     string         `json:"query"`
	Params    map[string]any `json:"params"`
	Columns   []string       `json:"columns"`
	TimeoutMS int            `json:"timeout_ms"`
	Limit     int            `json:"limit"`
}

// CypherResponse is its answer.
type CypherResponse struct {
	Columns   []string            `json:"columns"`
	Rows      [][]json.RawMessage `json:"rows"`
	Truncated bool                `json:"truncated"`
}

// cypher serves POST /v1/cypher: read-only Cypher for analysts, with a time
// limit. A query can test any value in its WHERE clause, so no filtering of
// its rows could keep classified data from leaking: it is open only to
// callers cleared for every level.
func (s *Server) cypher(c echo.Context) error {
	levels := graph.Levels()
	if !visibility(c).Allows(levels[len(levels)-1]) {
		return problem(http.StatusForbidden, "Cypher reads the whole graph: it needs clearance for "+levels[len(levels)-1]+"; use the other read routes, which honour your clearance")
	}
	var req CypherRequest
	if err := decodeBody(c, 1<<20, &req, "{query, columns, params?, timeout_ms?, limit?}"); err != nil {
		return err
	}
	res, err := s.opts.Cypher.Cypher(c.Request().Context(), graphstore.CypherQuery{
		Query: req.Query, Params: req.Params, Columns: req.Columns,
		Timeout: time.Duration(req.TimeoutMS) * time.Millisecond, Limit: req.Limit,
	})
	switch {
	case errors.Is(err, graphstore.ErrCypherInvalid):
		return problem(http.StatusBadRequest, err.Error())
	case errors.Is(err, graphstore.ErrCypherTimeout):
		return problem(http.StatusRequestTimeout, err.Error())
	case err != nil:
		return fmt.Errorf("running Cypher: %w", err)
	}
	if res.Rows == nil {
		res.Rows = [][]json.RawMessage{}
	}
	return c.JSON(http.StatusOK, CypherResponse{Columns: res.Columns, Rows: res.Rows, Truncated: res.Truncated})
}
