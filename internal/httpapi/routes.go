package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"

	"github.com/heimdallhub/heimdall/commands/ingest"
	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/auth"
	"github.com/heimdallhub/heimdall/internal/spool"
	"github.com/heimdallhub/heimdall/projections/graph"
)

// Ingester runs the ingest command.
type Ingester interface {
	Handle(ctx context.Context, cmd ingest.Command) (ingest.Result, error)
}

// EntityReader reads the graph for a reader: what lies above the reader's
// visibility does not exist for them (an error wrapping graph.ErrNotFound).
type EntityReader interface {
	EntityVisible(ctx context.Context, key string, vis graph.Visibility) (graph.EntityView, error)
	Neighbours(ctx context.Context, key string, q graph.NeighbourQuery, vis graph.Visibility) (graph.Neighbourhood, error)
	ShortestPath(ctx context.Context, from, to string, maxDepth int, vis graph.Visibility) ([]graph.VertexView, []graph.EdgeView, error)
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

// AcceptedResponse is the body of a 202 for an asynchronous ingest.
type AcceptedResponse struct {
	RequestID string `json:"request_id"`
	BatchID   string `json:"batch_id"`
	StatusURL string `json:"status_url"`
	Bytes     int64  `json:"bytes_received"`
}

// ingest streams an upload through the ingest command. With
// "Prefer: respond-async" the body is first spooled (encrypted) and the
// answer is 202 with the batch's status URL.
func (s *Server) ingest(c echo.Context) error {
	p, ok := auth.FromContext(c.Request().Context())
	if !ok || p.Subject == "" {
		return problem(http.StatusUnauthorized, "a write needs an authenticated actor")
	}
	req := c.Request()
	q := req.URL.Query()
	for _, name := range []string{"source", "file", "format", "profile", "delimiter"} {
		if !validName.MatchString(q.Get(name)) {
			return problem(http.StatusBadRequest, fmt.Sprintf("query parameter %s has characters outside [A-Za-z0-9._ /:@-] or is longer than 256", name))
		}
	}
	var delim rune
	switch d := q.Get("delimiter"); d {
	case "":
	case ",", ";", "|", ":":
		delim = rune(d[0])
	case "tab":
		delim = '\t'
	default:
		return problem(http.StatusBadRequest, "delimiter must be one of , ; | : tab")
	}
	key := req.Header.Get("Idempotency-Key")
	ownKey := key == ""
	if ownKey {
		key = uuid.Must(uuid.NewV7()).String()
	} else if !validBatchID.MatchString(key) {
		return problem(http.StatusBadRequest, "Idempotency-Key must be 8-128 characters of [A-Za-z0-9._-]")
	}
	actor := events.Actor{Subject: p.Subject, Issuer: p.Issuer}
	// The batch belongs to its actor: another actor's equal key is
	// another batch, with other event ids.
	batchID := ingest.BatchID(actor, key)
	headers := traceHeaders(req.Context())
	headers["heimdall.request_id"] = requestID(c)
	cmd := ingest.Command{
		ContentEncoding: req.Header.Get(echo.HeaderContentEncoding),
		Format:          q.Get("format"),
		Delimiter:       delim,
		Profile:         q.Get("profile"),
		Source:          q.Get("source"),
		File:            q.Get("file"),
		Actor:           actor,
		RequestID:       requestID(c),
		BatchID:         batchID,
		Key:             key,
		Headers:         headers,
	}
	async := preferAsync(req.Header.Values("Prefer"))
	status := ingest.BatchStatus{BatchID: batchID, State: ingest.StateProcessing, Async: async, Source: cmd.Source,
		File: cmd.File, ActorSub: p.Subject, ActorIss: p.Issuer, RequestID: requestID(c)}
	if async {
		status.State = ingest.StateReceiving
	}
	if !s.opts.Batches.Begin(status) {
		p := problem(http.StatusConflict, "the batch of this Idempotency-Key is still being processed; poll its status")
		p.StatusURL = "/v1/batches/" + batchID
		return p
	}
	if async {
		return s.ingestAsync(c, cmd)
	}
	cmd.Body = http.MaxBytesReader(c.Response(), req.Body, s.opts.MaxBodyBytes)
	res, err := s.opts.Ingest.Handle(req.Context(), cmd)
	s.countIngest(res, err)
	if perr := s.ingestProblem(cmd, ownKey, res, err); perr != nil {
		return perr
	}
	if res.Rejects == nil {
		res.Rejects = []ingest.Reject{}
	}
	return c.JSON(http.StatusOK, IngestResponse{RequestID: requestID(c), Result: res})
}

// ingestAsync spools the body, answers 202 and processes the batch after.
func (s *Server) ingestAsync(c echo.Context, cmd ingest.Command) error {
	sp, err := spool.Create(s.opts.SpoolDir, s.opts.MaxBodyBytes)
	if err != nil {
		s.opts.Batches.Finish(cmd.BatchID, ingest.Result{BatchID: cmd.BatchID}, "could not spool the upload")
		return fmt.Errorf("spooling batch %s: %w", cmd.BatchID, err)
	}
	n, err := io.Copy(sp, c.Request().Body)
	if err == nil {
		err = sp.Seal()
	}
	if err != nil {
		_ = sp.Remove()
		if errors.Is(err, spool.ErrTooLarge) {
			detail := fmt.Sprintf("body larger than %d bytes; nothing from this request was accepted", s.opts.MaxBodyBytes)
			s.opts.Batches.Finish(cmd.BatchID, ingest.Result{BatchID: cmd.BatchID}, detail)
			return problem(http.StatusRequestEntityTooLarge, detail)
		}
		s.opts.Batches.Finish(cmd.BatchID, ingest.Result{BatchID: cmd.BatchID}, "the upload was interrupted")
		return problem(http.StatusBadRequest, "the upload was interrupted before its end; re-send it with the same Idempotency-Key")
	}
	body, err := sp.Open()
	if err != nil {
		_ = sp.Remove()
		return fmt.Errorf("reading spool of batch %s: %w", cmd.BatchID, err)
	}
	cmd.Body = body
	s.opts.Batches.Update(cmd.BatchID, ingest.StateProcessing, n, nil)
	ctx := s.baseContext()
	ctx = trace.ContextWithSpanContext(ctx, trace.SpanContextFromContext(c.Request().Context()))
	go func() {
		defer sp.Remove() //nolint:errcheck // best effort: the spool is unreadable without its in-memory key
		res, err := s.opts.Ingest.Handle(ctx, cmd)
		s.countIngest(res, err)
		s.finishBatch(cmd, res, err)
	}()
	return c.JSON(http.StatusAccepted, AcceptedResponse{
		RequestID: requestID(c), BatchID: cmd.BatchID, StatusURL: "/v1/batches/" + cmd.BatchID, Bytes: n,
	})
}

// countIngest adds a batch's counts to the ingest metrics: the rows it
// read by outcome (also of a batch that failed part-way: what it accepted
// is in the log) and the batch's own outcome.
func (s *Server) countIngest(res ingest.Result, err error) {
	s.ingestRows.WithLabelValues("accepted").Add(float64(res.Accepted))
	s.ingestRows.WithLabelValues("rejected").Add(float64(res.Rejected))
	s.ingestRows.WithLabelValues("duplicate").Add(float64(res.Duplicates))
	s.ingestEvents.Add(float64(res.Events))
	outcome := "done"
	if err != nil {
		outcome = "failed"
	}
	s.ingestBatches.WithLabelValues(outcome).Inc()
}

// finishBatch records an asynchronous batch's outcome.
func (s *Server) finishBatch(cmd ingest.Command, res ingest.Result, err error) {
	detail := ""
	if p := ingestError(err); p != nil {
		detail = p.Detail
		s.log.Error("batch failed", "request_id", cmd.RequestID, "batch_id", cmd.BatchID, "err", err)
	} else {
		s.log.Info("batch ingested", "request_id", cmd.RequestID, "batch_id", res.BatchID, "format", res.Format, "rows", res.Rows,
			"accepted", res.Accepted, "rejected", res.Rejected, "duplicates", res.Duplicates, "events", res.Events)
	}
	s.opts.Batches.Finish(cmd.BatchID, res, detail)
}

// ingestProblem finishes a synchronous batch and maps its error. The
// problem names the Idempotency-Key to re-send with only when the server
// chose it (ownKey): the client's own key is not echoed.
func (s *Server) ingestProblem(cmd ingest.Command, ownKey bool, res ingest.Result, err error) error {
	s.finishBatch(cmd, res, err)
	p := ingestError(err)
	switch {
	case p == nil:
		return nil
	case p.Status == http.StatusInternalServerError:
		return fmt.Errorf("ingesting batch %s: %w", cmd.BatchID, err)
	}
	if ownKey {
		p.IdempotencyKey = cmd.Key
	}
	if r, ok := p.Result.(*ingest.Result); ok {
		r.Rejects = nil // their reasons quote the input; all are on the rejects topic
	}
	return p
}

// ingestError maps an ingest error to a problem with fixed text; nil for
// success.
func ingestError(err error) *Problem {
	var (
		tooLarge *http.MaxBytesError
		inErr    *ingest.InputError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooLarge):
		return problem(http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", tooLarge.Limit))
	case errors.As(err, &inErr):
		status := http.StatusBadRequest
		switch inErr.Failure.Code {
		case "too_large", "decompression_bomb":
			status = http.StatusRequestEntityTooLarge
		case "unsupported_encoding", "unsupported_format":
			status = http.StatusUnsupportedMediaType
		}
		p := problem(status, failureDetail(inErr.Failure.Code))
		p.Code = inErr.Failure.Code
		if inErr.Result.Rows > 0 {
			r := inErr.Result
			p.Result = &r
			p.Detail += fmt.Sprintf(" (after %d rows: %d accepted, %d rejected, %d duplicates; re-sending with the same Idempotency-Key is safe)",
				r.Rows, r.Accepted, r.Rejected, r.Duplicates)
		}
		return p
	case errors.Is(err, ingest.ErrUnsupportedFormat):
		p := problem(http.StatusUnsupportedMediaType, fmt.Sprintf("the format was not recognised or is not supported; name one of %v with the format parameter", ingest.Formats))
		p.Code = "unsupported_format"
		return p
	case errors.Is(err, ingest.ErrUnknownProfile):
		return problem(http.StatusBadRequest, "the profile parameter names no known mapping profile")
	case errors.Is(err, ingest.ErrBadRequest):
		return problem(http.StatusBadRequest, "the ingest request is invalid")
	case errors.Is(err, ingest.ErrLogUnavailable):
		return problem(http.StatusServiceUnavailable, "the event log did not acknowledge the batch; nothing from this request is reported accepted. Retry with the same Idempotency-Key")
	}
	return problem(http.StatusInternalServerError, "internal error; quote the request id to an operator")
}

// failureDetail is the fixed text of an input failure by its code: the
// failure's own reason can quote the input, so it is logged, never sent.
func failureDetail(code string) string {
	switch code {
	case "too_large":
		return "the body, or what it decompresses to, is larger than this server accepts"
	case "decompression_bomb":
		return "the compressed body expands more than this server accepts"
	case "unsupported_encoding":
		return "Content-Encoding must name one of identity, gzip and zstd"
	case "unsupported_format":
		return "the format of the body is not supported"
	case "corrupt_compression":
		return "the compressed body is corrupt"
	case "truncated":
		return "the input ends early"
	case "read_error":
		return "reading the body failed"
	}
	return "the input cannot be read as a whole; code says why"
}

// preferAsync reports whether a Prefer header asks for respond-async.
func preferAsync(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), "respond-async") {
				return true
			}
		}
	}
	return false
}

// batch shows a batch's status to the actor that sent it; for every other
// caller (admins included) it does not exist.
func (s *Server) batch(c echo.Context) error {
	p, _ := auth.FromContext(c.Request().Context())
	id := c.Param("id")
	if !validBatchID.MatchString(id) {
		return problem(http.StatusBadRequest, "not a batch id")
	}
	st, ok := s.opts.Batches.Get(id)
	if !ok || st.ActorSub != p.Subject || st.ActorIss != p.Issuer {
		return problem(http.StatusNotFound, "no batch with this id for this caller (batch status is kept by the process that handled it, until it restarts)")
	}
	if st.Result.Rejects == nil {
		st.Result.Rejects = []ingest.Reject{}
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) entity(c echo.Context) error {
	key := c.Param("key")
	if !validKey.MatchString(key) {
		return problem(http.StatusBadRequest, "not a canonical key (<type>--<uuid>)")
	}
	v, err := s.opts.Entities.EntityVisible(c.Request().Context(), key, visibility(c))
	if errors.Is(err, graph.ErrNotFound) {
		return problem(http.StatusNotFound, "no entity with this key")
	}
	if err != nil {
		return fmt.Errorf("reading entity: %w", err)
	}
	return c.JSON(http.StatusOK, entityResponse(v))
}
