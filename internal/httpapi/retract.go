package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/heimdallhub/heimdall/commands/retract"
)

// Retractor runs the retraction command.
type Retractor interface {
	Handle(ctx context.Context, cmd retract.Command) (string, error)
}

// RetractionRequest is the body of POST /v1/retractions.
type RetractionRequest struct {
	Scope  string `json:"scope"` // batch or source
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// RetractionResponse acknowledges a retraction (202: in the log; the
// projections follow).
type RetractionResponse struct {
	RequestID string `json:"request_id"`
	EventID   string `json:"event_id"`
	Scope     string `json:"scope"`
	ID        string `json:"id"`
}

// retractions serves POST /v1/retractions (admin): any batch or source,
// bounded by the caller's clearance.
func (s *Server) retractions(c echo.Context) error {
	actor, err := writer(c)
	if err != nil {
		return err
	}
	var req RetractionRequest
	if err := decodeBody(c, 64<<10, &req, "{scope: batch|source, id, reason}"); err != nil {
		return err
	}
	// The retraction reaches only what the caller may see: records at or
	// below its clearance (none without one).
	clearance := ""
	if sub := subject(c); sub.ClearanceRank >= 0 {
		clearance = sub.Clearance
	}
	id, err := s.opts.Retract.Handle(c.Request().Context(), retract.Command{
		Actor: actor, RequestID: requestID(c), Scope: req.Scope, ID: req.ID, Reason: req.Reason, Clearance: clearance, Headers: commandHeaders(c),
	})
	switch {
	case errors.Is(err, retract.ErrNoClearance):
		return problem(http.StatusForbidden, "a retraction reaches only records at or below your clearance, and your token carries none")
	case errors.Is(err, retract.ErrBadRequest):
		return problem(http.StatusBadRequest, err.Error())
	case errors.Is(err, retract.ErrLogUnavailable):
		return problem(http.StatusServiceUnavailable, "the event log did not acknowledge the retraction; retry")
	case err != nil:
		return fmt.Errorf("retracting: %w", err)
	}
	return c.JSON(http.StatusAccepted, RetractionResponse{RequestID: requestID(c), EventID: id, Scope: req.Scope, ID: req.ID})
}
