package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/heimdallhub/heimdall/commands/classify"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// Classifier runs the classification command.
type Classifier interface {
	Handle(ctx context.Context, cmd classify.Command) (string, error)
}

// RecordReader says whether the caller may see a record, and its type.
type RecordReader interface {
	RecordVisible(ctx context.Context, key string, vis graph.Visibility) (string, error)
}

// ClassificationRequest is the body of PATCH /v1/records/{key}/classification.
type ClassificationRequest struct {
	Level  string `json:"level"`
	Reason string `json:"reason"`
}

// ClassificationResponse acknowledges a change (202: it is in the log, and
// reads show it once projected).
type ClassificationResponse struct {
	RequestID  string `json:"request_id"`
	EventID    string `json:"event_id"`
	Record     string `json:"record"`
	RecordType string `json:"record_type"`
	Level      string `json:"level"`
}

// classifyRecord serves PATCH /v1/records/{key}/classification (classify
// permission): the record must exist for the caller, and the caller may only
// set a level they are cleared for.
func (s *Server) classifyRecord(c echo.Context) error {
	actor, err := writer(c)
	if err != nil {
		return err
	}
	key := c.Param("key")
	if !validKey.MatchString(key) {
		return problem(http.StatusBadRequest, "not a canonical key (<type>--<uuid>)")
	}
	var req ClassificationRequest
	if err := decodeBody(c, 64<<10, &req, "{level, reason}"); err != nil {
		return err
	}
	level := graph.NormalizeClassification(req.Level)
	vis := visibility(c)
	if graph.ClassificationRank(level) >= len(graph.Levels()) {
		return problem(http.StatusBadRequest, fmt.Sprintf("level must be one of %v", graph.Levels()))
	}
	if !vis.Allows(level) {
		return problem(http.StatusForbidden, "you may only set levels you are cleared for")
	}
	typ, err := s.opts.Records.RecordVisible(c.Request().Context(), key, vis)
	if errors.Is(err, graph.ErrNotFound) {
		return problem(http.StatusNotFound, "no entity or relation with this key")
	}
	if err != nil {
		return fmt.Errorf("reading the record: %w", err)
	}
	id, err := s.opts.Classify.Handle(c.Request().Context(), classify.Command{
		Actor: actor, RequestID: requestID(c),
		Record: key, RecordType: typ, Level: level, Reason: req.Reason, Headers: commandHeaders(c),
	})
	switch {
	case errors.Is(err, classify.ErrBadRequest):
		return problem(http.StatusBadRequest, err.Error())
	case errors.Is(err, classify.ErrLogUnavailable):
		return problem(http.StatusServiceUnavailable, "the event log did not acknowledge the change; retry")
	case errors.Is(err, classify.ErrReadModelUnavailable):
		return problem(http.StatusServiceUnavailable, "the record's current classification could not be read; retry")
	case err != nil:
		return fmt.Errorf("classifying: %w", err)
	}
	return c.JSON(http.StatusAccepted, ClassificationResponse{RequestID: requestID(c), EventID: id, Record: key, RecordType: typ, Level: level})
}
