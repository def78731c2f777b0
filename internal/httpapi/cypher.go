package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
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

// cypherAt finds the position a refusal names.
var cypherAt = regexp.MustCompile(`at character ([0-9]{1,9}) of the query`)

// cypherPosition is " (at character N of the query)" when the refusal
// names one: a number, never the query's text.
func cypherPosition(err error) string {
	if m := cypherAt.FindStringSubmatch(err.Error()); m != nil {
		return " (at character " + m[1] + " of the query)"
	}
	return ""
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
		s.log.Info("cypher query refused", "request_id", requestID(c), "err", err)
		return problem(http.StatusBadRequest, "the query was refused: one read-only statement, built-in functions only, $parameters, and the columns it returns named"+cypherPosition(err))
	case errors.Is(err, graphstore.ErrCypherTimeout):
		return problem(http.StatusRequestTimeout, "the query ran out of time; ask for less or raise timeout_ms (at most 30 s)")
	case err != nil:
		return fmt.Errorf("running Cypher: %w", err)
	}
	if res.Rows == nil {
		res.Rows = [][]json.RawMessage{}
	}
	return c.JSON(http.StatusOK, CypherResponse{Columns: res.Columns, Rows: res.Rows, Truncated: res.Truncated})
}
