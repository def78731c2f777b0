package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/heimdallhub/heimdall/commands/reveal"
	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/auth"
	"github.com/heimdallhub/heimdall/internal/rbac"
)

// Decrypter runs the audited decrypt command.
type Decrypter interface {
	Handle(ctx context.Context, cmd reveal.Command) ([]reveal.Revealed, error)
}

// DecryptRequest is the body of POST /v1/decrypt.
type DecryptRequest struct {
	// Purpose says why (recorded in the audit event, scrubbed).
	Purpose string        `json:"purpose"`
	Items   []reveal.Item `json:"items"`
}

// DecryptResponse is its answer.
type DecryptResponse struct {
	RequestID string            `json:"request_id"`
	Items     []reveal.Revealed `json:"items"`
}

// maxDecryptBody bounds a decrypt request body.
const maxDecryptBody = 1 << 20

// decrypt reveals sealed values to callers holding the decrypt role; every
// attempt, allowed or not, is an audit event acknowledged before anything
// is returned.
func (s *Server) decrypt(c echo.Context) error {
	p, ok := auth.FromContext(c.Request().Context())
	if !ok || p.Subject == "" {
		return problem(http.StatusUnauthorized, "decryption needs an authenticated actor")
	}
	var req DecryptRequest
	if err := decodeBody(c, maxDecryptBody, &req, "{purpose, items: [{record, field, value?}]}"); err != nil {
		return err
	}
	allowed := subject(c).Can(rbac.Decrypt)
	headers := commandHeaders(c)
	out, err := s.opts.Decrypt.Handle(c.Request().Context(), reveal.Command{
		Actor:     events.Actor{Subject: p.Subject, Issuer: p.Issuer},
		RequestID: requestID(c),
		Allowed:   allowed,
		Purpose:   req.Purpose,
		Items:     req.Items,
		Headers:   headers,
	})
	c.Response().Header().Set("Cache-Control", "no-store")
	switch {
	case errors.Is(err, reveal.ErrForbidden):
		return problem(http.StatusForbidden, "the decrypt role is required (the attempt was audited)")
	case errors.Is(err, reveal.ErrBadRequest):
		return problem(http.StatusBadRequest, err.Error())
	case errors.Is(err, reveal.ErrAuditUnavailable):
		return problem(http.StatusServiceUnavailable, "the audit log is not available, so nothing was decrypted; retry later")
	case err != nil:
		return fmt.Errorf("decrypting: %w", err)
	}
	return c.JSON(http.StatusOK, DecryptResponse{RequestID: requestID(c), Items: out})
}
