package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heimdallhub/heimdall/internal/auth"
	"github.com/heimdallhub/heimdall/sync/exchange"
	"github.com/heimdallhub/heimdall/sync/export"
)

// SyncExporter serves this peer's log to other peers (sync/export).
type SyncExporter interface {
	Peer(ctx context.Context, subject string) (exchange.Peer, error)
	Export(ctx context.Context, peer exchange.Peer, r export.Request, w io.Writer, flush func()) (export.Stats, error)
}

// Bounds of a pull.
const (
	syncMaxRecords = 50_000
	syncMaxWait    = time.Minute
)

// syncEvents serves GET /v1/sync/events to peers: the caller's token
// subject must be a configured peer (and the token carry the peer
// permission); it receives what its agreement allows from its cursor on.
func (s *Server) syncEvents(c echo.Context) error {
	p, ok := auth.FromContext(c.Request().Context())
	if !ok || p.Subject == "" {
		return problem(http.StatusUnauthorized, "a pull needs an authenticated peer")
	}
	ctx := c.Request().Context()
	peer, err := s.opts.Sync.Peer(ctx, p.Subject)
	switch {
	case errors.Is(err, export.ErrUnknownPeer):
		return problem(http.StatusForbidden, "the token's subject is not a configured peer of this Heimdall")
	case errors.Is(err, export.ErrPaused):
		c.Response().Header().Set("Retry-After", "30")
		return problem(http.StatusServiceUnavailable, "sync with peer "+peer.ID+" is paused here")
	case err != nil:
		return err
	}
	q := c.QueryParams()
	cursor, err := exchange.ParseCursor(q.Get("cursor"))
	if err != nil {
		return problem(http.StatusBadRequest, "cursor must be the next cursor of an earlier answer (partition:offset,…)")
	}
	req := export.Request{From: cursor, Max: 5000}
	if v := q.Get("max"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > syncMaxRecords {
			return problem(http.StatusBadRequest, "max must be 1-"+strconv.Itoa(syncMaxRecords))
		}
		req.Max = n
	}
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > syncMaxWait {
			return problem(http.StatusBadRequest, "wait must be a duration of at most "+syncMaxWait.String())
		}
		req.Wait = d
	}
	switch q.Get("ids") {
	case "", "0", "false":
	case "1", "true":
		req.IDsOnly = true
	default:
		return problem(http.StatusBadRequest, "ids must be true or false")
	}
	if v := q.Get("partition"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 {
			return problem(http.StatusBadRequest, "partition must be a partition number")
		}
		part := int32(n)
		req.Partition = &part
	}
	if v := q.Get("until"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || req.Partition == nil {
			return problem(http.StatusBadRequest, "until must be an offset, with partition")
		}
		req.Until = n
	}
	if v := q.Get("digests"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > syncMaxRecords || req.Until == 0 || req.IDsOnly {
			return problem(http.StatusBadRequest, "digests must be a range size of 1-"+strconv.Itoa(syncMaxRecords)+", with partition and until, without ids")
		}
		req.DigestSpan = n
	}
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, exchange.ContentType)
	res.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(res.Writer)
	st, err := s.opts.Sync.Export(ctx, peer, req, res, func() { _ = rc.Flush() })
	if err != nil && ctx.Err() == nil {
		// The status is sent: the stream ends early; the peer resumes
		// from the last cursor frame it received.
		s.log.Warn("sync export ended early", "peer", peer.ID, "read", st.Read, "sent", st.Sent, "error", err)
	}
	s.log.Debug("sync export", "peer", peer.ID, "read", st.Read, "sent", st.Sent, "held", st.Held, "excluded", st.Excluded, "undecodable", st.Undecodable)
	return nil
}
