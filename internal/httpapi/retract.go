package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/heimdallhub/heimdall/commands/retract"
	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/auth"
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

// retractions serves POST /v1/retractions (admin).
func (s *Server) retractions(c echo.Context) error {
	p, ok := auth.FromContext(c.Request().Context())
	if !ok || p.Subject == "" {
		return problem(http.StatusUnauthorized, "a write needs an authenticated actor")
	}
	var req RetractionRequest
	dec := json.NewDecoder(io.LimitReader(c.Request().Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return problem(http.StatusBadRequest, "body must be a JSON object {scope: batch|source, id, reason}")
	}
	headers := traceHeaders(c.Request().Context())
	headers["heimdall.request_id"] = requestID(c)
	id, err := s.opts.Retract.Handle(c.Request().Context(), retract.Command{
		Actor: events.Actor{Subject: p.Subject, Issuer: p.Issuer}, RequestID: requestID(c),
		Scope: req.Scope, ID: req.ID, Reason: req.Reason, Headers: headers,
	})
	switch {
	case errors.Is(err, retract.ErrBadRequest):
		return problem(http.StatusBadRequest, err.Error())
	case errors.Is(err, retract.ErrLogUnavailable):
		return problem(http.StatusServiceUnavailable, "the event log did not acknowledge the retraction; retry")
	case err != nil:
		return fmt.Errorf("retracting: %w", err)
	}
	return c.JSON(http.StatusAccepted, RetractionResponse{RequestID: requestID(c), EventID: id, Scope: req.Scope, ID: req.ID})
}
