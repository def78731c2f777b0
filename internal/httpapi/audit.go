package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/heimdallhub/heimdall/projections/audit"
)

// AuditReader reads the audit trail.
type AuditReader interface {
	Entries(ctx context.Context, q audit.Query) ([]audit.Entry, error)
}

// AuditEntry is one audited write.
type AuditEntry struct {
	EventID     string            `json:"event_id"`
	Action      string            `json:"action"`
	Outcome     string            `json:"outcome"`
	Actor       string            `json:"actor"`
	ActorIssuer string            `json:"actor_issuer"`
	RequestID   string            `json:"request_id"`
	RecordedAt  time.Time         `json:"recorded_at"`
	Records     []string          `json:"records"`
	Details     map[string]string `json:"details"`
}

// AuditResponse is the JSON shape of GET /v1/audit.
type AuditResponse struct {
	Entries []AuditEntry `json:"entries"` // newest first
	// Next continues the listing (pass it as before=); empty at the end.
	Next string `json:"next,omitempty"`
}

var validAuditWord = regexp.MustCompile(`^[A-Za-z0-9._:@/-]{1,256}$`)

// auditTrail serves GET /v1/audit?actor=&action=&record=&since=&until=&before=&limit= (admin).
func (s *Server) auditTrail(c echo.Context) error {
	limit, err := pageLimit(c, 100)
	if err != nil {
		return err
	}
	q := audit.Query{Actor: c.QueryParam("actor"), Action: c.QueryParam("action"), Record: c.QueryParam("record"), Limit: limit}
	for _, v := range []string{q.Actor, q.Action, q.Record} {
		if v != "" && !validAuditWord.MatchString(v) {
			return problem(http.StatusBadRequest, "actor, action and record must be plain identifiers")
		}
	}
	for name, dst := range map[string]*time.Time{"since": &q.Since, "until": &q.Until} {
		if v := c.QueryParam(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return problem(http.StatusBadRequest, name+" must be an RFC 3339 time")
			}
			*dst = t
		}
	}
	if v := c.QueryParam("before"); v != "" {
		if q.Before, err = uuid.Parse(v); err != nil {
			return problem(http.StatusBadRequest, "before must be an event id from the previous page")
		}
	}
	es, err := s.opts.Audit.Entries(c.Request().Context(), q)
	if err != nil {
		return fmt.Errorf("reading the audit trail: %w", err)
	}
	out := AuditResponse{Entries: make([]AuditEntry, 0, len(es))}
	for _, e := range es {
		out.Entries = append(out.Entries, AuditEntry{EventID: e.EventID.String(), Action: e.Action, Outcome: e.Outcome,
			Actor: e.Actor.Subject, ActorIssuer: e.Actor.Issuer, RequestID: e.RequestID, RecordedAt: e.RecordedAt,
			Records: e.Records, Details: e.Details})
	}
	if len(es) == limit {
		out.Next = es[len(es)-1].EventID.String()
	}
	return c.JSON(http.StatusOK, out)
}
