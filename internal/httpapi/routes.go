package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/heimdallhub/heimdall/commands/ingest"
	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/auth"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// Ingester runs the ingest command.
type Ingester interface {
	Handle(ctx context.Context, cmd ingest.Command) (ingest.Result, error)
}

// EntityReader reads one entity's view, or returns an error wrapping
// graph.ErrNotFound.
type EntityReader interface {
	Entity(ctx context.Context, key string) (graph.EntityView, error)
}

var (
	validBatchID = regexp.MustCompile(`^[A-Za-z0-9._-]{8,128}$`)
	validName    = regexp.MustCompile(`^[A-Za-z0-9._ /:@-]{0,256}$`)
	validKey     = regexp.MustCompile(`^[a-z0-9-]{1,40}--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// IngestResponse is the body of a successful ingest.
type IngestResponse struct {
	RequestID string `json:"request_id"`
	ingest.Result
}

func (s *Server) ingest(c echo.Context) error {
	p, ok := auth.FromContext(c.Request().Context())
	if !ok || p.Subject == "" {
		return problem(http.StatusUnauthorized, "a write needs an authenticated actor")
	}
	req := c.Request()
	if enc := req.Header.Get(echo.HeaderContentEncoding); enc != "" && enc != "identity" {
		return problem(http.StatusUnsupportedMediaType, fmt.Sprintf("content encoding %q is not supported", enc))
	}
	q := req.URL.Query()
	for _, name := range []string{"source", "file", "format", "profile"} {
		if !validName.MatchString(q.Get(name)) {
			return problem(http.StatusBadRequest, fmt.Sprintf("query parameter %s has characters outside [A-Za-z0-9._ /:@-] or is longer than 256", name))
		}
	}
	batchID := req.Header.Get("Idempotency-Key")
	if batchID == "" {
		batchID = uuid.Must(uuid.NewV7()).String()
	} else if !validBatchID.MatchString(batchID) {
		return problem(http.StatusBadRequest, "Idempotency-Key must be 8-128 characters of [A-Za-z0-9._-]")
	}
	body := http.MaxBytesReader(c.Response(), req.Body, s.opts.MaxBodyBytes)
	headers := traceHeaders(req.Context())
	headers["heimdall.request_id"] = requestID(c)
	res, err := s.opts.Ingest.Handle(req.Context(), ingest.Command{
		Body:      body,
		Format:    q.Get("format"),
		Profile:   q.Get("profile"),
		Source:    q.Get("source"),
		File:      q.Get("file"),
		Actor:     events.Actor{Subject: p.Subject, Issuer: p.Issuer},
		RequestID: requestID(c),
		BatchID:   batchID,
		Headers:   headers,
	})
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
	case errors.As(err, &tooLarge):
		return problem(http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes; nothing from this request was accepted", s.opts.MaxBodyBytes))
	case errors.Is(err, ingest.ErrUnsupportedFormat), errors.Is(err, ingest.ErrUnknownProfile), errors.Is(err, ingest.ErrBadRequest):
		return problem(http.StatusBadRequest, err.Error())
	case errors.Is(err, ingest.ErrLogUnavailable):
		s.log.Error("ingest not acknowledged", "request_id", requestID(c), "batch_id", batchID, "err", err)
		return problem(http.StatusServiceUnavailable, "the event log did not acknowledge the batch; nothing from this request is reported accepted. Retry with the same Idempotency-Key: "+batchID)
	default:
		return fmt.Errorf("ingesting batch %s: %w", batchID, err)
	}
	s.log.Info("batch ingested", "request_id", requestID(c), "batch_id", res.BatchID, "rows", res.Rows,
		"accepted", res.Accepted, "rejected", res.Rejected, "duplicates", res.Duplicates, "events", res.Events)
	if res.Rejects == nil {
		res.Rejects = []ingest.Reject{}
	}
	return c.JSON(http.StatusOK, IngestResponse{RequestID: requestID(c), Result: res})
}

func (s *Server) entity(c echo.Context) error {
	key := c.Param("key")
	if !validKey.MatchString(key) {
		return problem(http.StatusBadRequest, "not a canonical key (<type>--<uuid>)")
	}
	v, err := s.opts.Entities.Entity(c.Request().Context(), key)
	if errors.Is(err, graph.ErrNotFound) {
		return problem(http.StatusNotFound, "no entity with this key")
	}
	if err != nil {
		return fmt.Errorf("reading entity: %w", err)
	}
	return c.JSON(http.StatusOK, entityResponse(v))
}
