package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/labstack/echo/v4"

	"github.com/heimdallhub/heimdall/commands/ingest"
	"github.com/heimdallhub/heimdall/commands/reveal"
	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/auth"
	"github.com/heimdallhub/heimdall/internal/graphstore"
	"github.com/heimdallhub/heimdall/internal/rbac"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// Decrypter runs the audited decrypt command.
type Decrypter interface {
	Handle(ctx context.Context, cmd reveal.Command) ([]reveal.Revealed, error)
}

// SealedReader reads a field of an entity or relation for the decrypt
// path, as far as vis allows (graphstore.Store.SealedField).
type SealedReader interface {
	SealedField(ctx context.Context, key, field string, vis graph.Visibility) (graphstore.SealedField, error)
}

// validRejectRecord is the record a rejected line's sealed content is bound
// to: "<batch id>/<line>" (ingest.RejectRecordKey).
var validRejectRecord = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}/[0-9]{1,19}$`)

// sealedRecords is the read model as one decrypt caller may see it: the
// caller's visibility (the same rule every read route applies) is bound
// into it, so a record above their clearance reads as invisible.
type sealedRecords struct {
	r   SealedReader
	vis graph.Visibility
}

// Field implements reveal.Records. A rejected line is not in the read
// model: its event carries the highest level, so only callers cleared for
// that level may open its content (which they send).
func (s sealedRecords) Field(ctx context.Context, key, field string) (reveal.Field, error) {
	if field == ingest.RejectRawField && validRejectRecord.MatchString(key) {
		levels := graph.Levels()
		return reveal.Field{Exists: true, Visible: s.vis.Allows(levels[len(levels)-1]), Unlisted: true}, nil
	}
	if s.r == nil || !validKey.MatchString(key) {
		return reveal.Field{}, nil
	}
	f, err := s.r.SealedField(ctx, key, field, s.vis)
	if err != nil {
		return reveal.Field{}, fmt.Errorf("reading a sealed field: %w", err)
	}
	return reveal.Field{Exists: f.Exists, Visible: f.Visible, Values: f.Values}, nil
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

// decrypt reveals sealed values to callers holding the decrypt role, of
// records at or below their clearance: an item of a record above it is
// answered exactly like one of a record that does not exist (and audited as
// denied). Every attempt, allowed or not, is an audit event acknowledged
// before anything is returned.
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
		Records:   sealedRecords{r: s.opts.Sealed, vis: visibility(c)},
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
