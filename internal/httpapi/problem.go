package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/auth"
)

// Problem is an RFC 9457 problem details object. Nothing in it echoes
// what the client sent (no path, query or header value, no body content):
// Detail is fixed text, naming a wrong parameter by its fixed name, and
// RequestID is the server's own.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Code is a stable machine-readable reason (RFC 9457 extension member).
	Code string `json:"code,omitempty"`
	// IdempotencyKey is the key the server chose for a failed ingest batch
	// sent without one: re-send with it. Never a key the client sent.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// StatusURL is the status of a batch still being processed.
	StatusURL string `json:"status_url,omitempty"`
	// Result carries the counts of an ingest that failed part-way: what was
	// accepted before the failure is in the log.
	Result any `json:"result,omitempty"`
}

func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

func problem(status int, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
}

// errorHandler renders every error as problem+json. Details of internal
// errors are logged, never sent; Echo's own errors (404, 405, 413, bind
// errors, whose messages can quote the request) get their status text only.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var p *Problem
	var he *echo.HTTPError
	switch {
	case errors.As(err, &p):
	case errors.As(err, &he):
		p = problem(he.Code, "")
	default:
		s.log.Error("request failed", "request_id", requestID(c), "path", c.Path(), "err", err)
		p = problem(http.StatusInternalServerError, "internal error; quote the request id to an operator")
	}
	out := *p
	out.RequestID = requestID(c)
	if out.Type == "" {
		out.Type = "about:blank"
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(out.Status)
	if c.Request().Method != http.MethodHead {
		_ = json.NewEncoder(c.Response()).Encode(out)
	}
}

// decodeBody reads a JSON object of at most limit bytes into v, refusing
// unknown fields; shape describes the expected object in the 400.
func decodeBody(c echo.Context, limit int64, v any, shape string) error {
	dec := json.NewDecoder(io.LimitReader(c.Request().Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return problem(http.StatusBadRequest, "body must be a JSON object "+shape)
	}
	return nil
}

// writer returns the authenticated actor of a write, or the 401 to send.
func writer(c echo.Context) (events.Actor, error) {
	p, ok := auth.FromContext(c.Request().Context())
	if !ok || p.Subject == "" {
		return events.Actor{}, problem(http.StatusUnauthorized, "a write needs an authenticated actor")
	}
	return events.Actor{Subject: p.Subject, Issuer: p.Issuer}, nil
}

// commandHeaders are the Kafka headers of a command's events: trace
// context and request id.
func commandHeaders(c echo.Context) map[string]string {
	h := traceHeaders(c.Request().Context())
	h["heimdall.request_id"] = requestID(c)
	return h
}
