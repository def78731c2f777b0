package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
)

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Code is a stable machine-readable reason (RFC 9457 extension member).
	Code string `json:"code,omitempty"`
	// Result carries the counts of an ingest that failed part-way: what was
	// accepted before the failure is in the log.
	Result any `json:"result,omitempty"`
}

func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

func problem(status int, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
}

// errorHandler renders every error as problem+json. Details of internal
// errors are logged, never sent.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var p *Problem
	var he *echo.HTTPError
	switch {
	case errors.As(err, &p):
	case errors.As(err, &he):
		detail := ""
		if m, ok := he.Message.(string); ok {
			detail = m
		}
		p = problem(he.Code, detail)
	default:
		s.log.Error("request failed", "request_id", requestID(c), "path", c.Path(), "err", err)
		p = problem(http.StatusInternalServerError, "internal error; quote the request id to an operator")
	}
	out := *p
	out.Instance = c.Request().URL.Path
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
