package httpapi

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/heimdallhub/heimdall/commands/ingest"
	"github.com/heimdallhub/heimdall/internal/auth"
	"github.com/heimdallhub/heimdall/internal/rbac"
	"github.com/heimdallhub/heimdall/internal/telemetry"
)

// TokenVerifier authenticates bearer tokens.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (auth.Principal, error)
}

// Options configure the server. Nil route dependencies leave their routes
// out, so each process serves only the components it runs.
type Options struct {
	Logger   *slog.Logger
	Registry *prometheus.Registry
	Verifier TokenVerifier
	Ingest   Ingester     // POST /v1/ingest
	Entities EntityReader // GET /v1/entities/:key
	Ready    map[string]func(context.Context) error
	// Tracer starts a span per request, continuing an incoming W3C
	// traceparent; nil disables tracing.
	Tracer trace.Tracer
	// MaxBodyBytes bounds an ingest body as sent (compressed or not).
	MaxBodyBytes int64
	// Batches tracks ingest batches (required with Ingest).
	Batches *ingest.Batches
	// SpoolDir holds encrypted spools of asynchronous uploads (os.TempDir
	// when empty).
	SpoolDir string
	// Classify serves PATCH /v1/records/{key}/classification (with
	// Records).
	Classify Classifier
	Records  RecordReader
	// Cypher serves POST /v1/cypher to readers cleared for every level.
	Cypher CypherRunner
	// Retract serves POST /v1/retractions to admins.
	Retract Retractor
	// Audit serves GET /v1/audit to admins.
	Audit AuditReader
	// Correlate serves timelines, correlations and co-occurrences.
	Correlate Correlator
	// Similar serves GET /v1/similar (look-alike domains and URLs).
	Similar SimilarReader
	// Keys turns raw values into keys for GET /v1/entities?ip=… (with
	// Entities).
	Keys KeyFinder
	// Decrypt serves POST /v1/decrypt to callers with the decrypt
	// permission (others are refused, and audited).
	Decrypt Decrypter
	// Sealed reads the records' fields decrypt opens, as far as the
	// caller's clearance allows (nil: no record is visible to decrypt).
	Sealed SealedReader
	// Enrich serves POST /v1/enrichments to callers with the ingest
	// permission (with Entities); EnrichProviders, when set, are the
	// provider names it accepts.
	Enrich          Enricher
	EnrichProviders []string
	// EnrichmentViews serves GET /v1/entities/{key}/enrichments.
	EnrichmentViews EnrichmentReader
	// Sync serves GET /v1/sync/events to peers (peer permission).
	Sync SyncExporter
	// RBAC maps token claims to permissions and clearance.
	RBAC rbac.Config
	// Edge limits header and body reads, header size and request rates.
	Edge Edge
}

// Server is the HTTP API.
type Server struct {
	e    *echo.Echo
	log  *slog.Logger
	opts Options

	ctxMu sync.Mutex
	ctx   context.Context // the serving context: asynchronous batches stop with it

	edgeLimits Edge
	limiters   map[RateClass]*limiter
	routes     map[string]bool // registered route templates (metric labels)

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	ingestRows    *prometheus.CounterVec
	ingestBatches *prometheus.CounterVec
	ingestEvents  prometheus.Counter
}

// New builds the routes.
func New(o Options) *Server {
	s := &Server{e: echo.New(), log: o.Logger, opts: o, edgeLimits: o.Edge.withDefaults(), limiters: newLimiters(o.Edge.Rates)}
	s.e.HideBanner = true
	s.e.HidePort = true
	s.e.HTTPErrorHandler = s.errorHandler
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "heimdall_http_requests_total", Help: "HTTP requests by route, method and status code.",
	}, []string{"route", "method", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "heimdall_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
	}, []string{"route", "method"})
	s.ingestRows = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "heimdall_ingest_rows_total", Help: "Input rows read by ingest, by outcome (accepted, rejected, duplicate).",
	}, []string{"outcome"})
	s.ingestBatches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "heimdall_ingest_batches_total", Help: "Ingest batches by outcome (done, failed).",
	}, []string{"outcome"})
	s.ingestEvents = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "heimdall_ingest_events_total", Help: "Events ingest appended to the log (acknowledged).",
	})
	for _, o := range []string{"accepted", "rejected", "duplicate"} {
		s.ingestRows.WithLabelValues(o)
	}
	for _, o := range []string{"done", "failed"} {
		s.ingestBatches.WithLabelValues(o)
	}
	if o.Registry != nil {
		o.Registry.MustRegister(s.requests, s.latency, s.ingestRows, s.ingestBatches, s.ingestEvents)
	}

	s.e.Use(s.withRequestID, s.recoverPanics, s.traced, s.accessLog)
	s.e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	s.e.GET("/readyz", s.readyz)
	if o.Registry != nil {
		s.e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{Registry: o.Registry})))
	}
	s.e.GET("/v1/openapi.json", s.openapi)
	v1 := s.e.Group("/v1", s.authenticate, s.rateLimit, s.requireToken)
	if o.Ingest != nil {
		if s.opts.Batches == nil {
			s.opts.Batches = ingest.NewBatches(0)
		}
		v1.POST("/ingest", s.ingest, require(rbac.Ingest))
		v1.GET("/batches/:id", s.batch, require(rbac.Ingest))
	}
	if o.Entities != nil {
		read := require(rbac.Read)
		v1.GET("/entities/:key", s.entity, read)
		v1.GET("/entities/:key/neighbours", s.neighbours, read)
		v1.GET("/paths", s.path, read)
		if o.Keys != nil {
			v1.GET("/entities", s.lookup, read)
		}
	}
	if o.Correlate != nil {
		v1.GET("/entities/:key/timeline", s.timeline, require(rbac.Read))
		v1.GET("/entities/:key/cooccurring", s.cooccurring, require(rbac.Read))
		v1.GET("/correlations", s.correlations, require(rbac.Read))
	}
	if o.Classify != nil && o.Records != nil {
		v1.PATCH("/records/:key/classification", s.classifyRecord, require(rbac.Classify))
	}
	if o.Cypher != nil {
		v1.POST("/cypher", s.cypher, require(rbac.Read))
	}
	if o.Retract != nil {
		v1.POST("/retractions", s.retractions, require(rbac.Admin))
	}
	if o.Audit != nil {
		v1.GET("/audit", s.auditTrail, require(rbac.Admin))
	}
	if o.Similar != nil {
		v1.GET("/similar", s.similar, require(rbac.Read))
	}
	if o.Decrypt != nil {
		v1.POST("/decrypt", s.decrypt)
	}
	if o.Enrich != nil && o.Entities != nil {
		v1.POST("/enrichments", s.requestEnrichment, require(rbac.Ingest))
	}
	if o.EnrichmentViews != nil {
		v1.GET("/entities/:key/enrichments", s.enrichments, require(rbac.Read))
	}
	if o.Sync != nil {
		v1.GET("/sync/events", s.syncEvents, require(rbac.Peer))
	}
	s.routes = map[string]bool{}
	for _, r := range s.e.Routes() {
		s.routes[r.Path] = true
	}
	return s
}

// Handler is the server's http.Handler, edge included (for tests).
func (s *Server) Handler() http.Handler { return s.edge(s.e) }

// Serve listens on addr with tlsCfg (TLS 1.3 only) until ctx is done, then
// shuts down gracefully within grace.
func (s *Server) Serve(ctx context.Context, addr string, tlsCfg *tls.Config, grace time.Duration) error {
	if tlsCfg == nil || tlsCfg.MinVersion < tls.VersionTLS13 {
		return errors.New("serving: TLS 1.3 configuration required")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.ServeListener(ctx, ln, tlsCfg, grace)
}

// ServeListener is Serve on an existing listener.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener, tlsCfg *tls.Config, grace time.Duration) error {
	s.ctxMu.Lock()
	s.ctx = ctx
	s.ctxMu.Unlock()
	srv := &http.Server{
		Handler:           s.edge(s.e),
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: s.edgeLimits.ReadHeaderTimeout,
		MaxHeaderBytes:    s.edgeLimits.MaxHeaderBytes,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(ln, tlsCfg)) }()
	s.log.Info("api listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	return nil
}

// withRequestID gives every request an id of the server's own (never one
// the client sent, which problem bodies would then echo).
func (s *Server) withRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := uuid.Must(uuid.NewV7()).String()
		c.Set("request_id", id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

// traced continues the caller's trace (W3C traceparent) or starts one, so
// the events a request writes carry its trace context.
func (s *Server) traced(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.opts.Tracer == nil {
			return next(c)
		}
		req := c.Request()
		ctx := telemetry.Propagator.Extract(req.Context(), propagation.HeaderCarrier(req.Header))
		ctx, span := s.opts.Tracer.Start(ctx, methodLabel(req.Method)+" "+s.routeLabel(c.Path()), trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		span.SetAttributes(attribute.String("heimdall.request_id", requestID(c)))
		c.SetRequest(req.WithContext(ctx))
		return next(c)
	}
}

// traceHeaders returns the W3C trace-context headers of ctx.
func traceHeaders(ctx context.Context) map[string]string {
	h := map[string]string{}
	telemetry.Propagator.Inject(ctx, propagation.MapCarrier(h))
	return h
}

func (s *Server) baseContext() context.Context {
	s.ctxMu.Lock()
	defer s.ctxMu.Unlock()
	if s.ctx == nil {
		return context.Background()
	}
	return s.ctx
}

func requestID(c echo.Context) string {
	id, _ := c.Get("request_id").(string)
	return id
}

func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("handler panicked", "request_id", requestID(c), "path", c.Path())
				err = problem(http.StatusInternalServerError, "internal error; quote the request id to an operator")
			}
		}()
		return next(c)
	}
}

// accessLog logs one line per request: route template (never the raw path,
// which can carry values), status, size and latency; and counts it in the
// metrics under bounded labels.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route, method := s.routeLabel(c.Path()), methodLabel(c.Request().Method)
		status := c.Response().Status
		d := time.Since(start)
		s.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		s.latency.WithLabelValues(route, method).Observe(d.Seconds())
		attrs := []any{"request_id", requestID(c), "method", method, "route", route,
			"status", status, "bytes_in", c.Request().ContentLength, "bytes_out", c.Response().Size,
			"duration_ms", float64(d.Microseconds()) / 1000}
		if p, ok := auth.FromContext(c.Request().Context()); ok {
			attrs = append(attrs, "actor", p.Subject)
		}
		s.log.Info("request", attrs...)
		return nil
	}
}

// authenticate verifies the bearer token and puts the principal and its
// subject into the request context; a request without a valid token goes
// on without them, with the reason kept for requireToken (the rate limit
// in between counts it by its address).
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		raw := auth.BearerToken(c.Request().Header.Get(echo.HeaderAuthorization))
		p, err := s.opts.Verifier.Verify(c.Request().Context(), raw)
		if err != nil {
			c.Set(authFailureKey, err)
			return next(c)
		}
		ctx := auth.WithPrincipal(c.Request().Context(), p)
		c.SetRequest(c.Request().WithContext(withSubject(ctx, rbac.Resolve(s.opts.RBAC, p.Claims))))
		return next(c)
	}
}

// authFailureKey holds why authenticate found no valid token.
const authFailureKey = "auth_failure"

// requireToken refuses a request authenticate found no valid token in:
// 401 (the reason is logged, never sent), or 503 when the identity provider
// could not be reached.
func (s *Server) requireToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err, _ := c.Get(authFailureKey).(error)
		if err == nil {
			return next(c)
		}
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="heimdall", error="invalid_token"`)
		if errors.Is(err, auth.ErrUnavailable) {
			return problem(http.StatusServiceUnavailable, "identity provider not reachable; try again")
		}
		s.log.Info("authentication failed", "request_id", requestID(c), "reason", err.Error())
		return problem(http.StatusUnauthorized, "this needs a valid bearer token for this API")
	}
}

type subjectKey struct{}

func withSubject(ctx context.Context, sub rbac.Subject) context.Context {
	return context.WithValue(ctx, subjectKey{}, sub)
}

// subject is the caller's roles, permissions and clearance (the zero
// Subject, which may do and see nothing, when unauthenticated).
func subject(c echo.Context) rbac.Subject {
	sub, _ := c.Request().Context().Value(subjectKey{}).(rbac.Subject)
	return sub
}

// require lets a request through only when the caller holds permission p:
// deny by default.
func require(p rbac.Permission) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !subject(c).Can(p) {
				return problem(http.StatusForbidden, "this needs the "+string(p)+" permission, which your token's roles do not grant")
			}
			return next(c)
		}
	}
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 5*time.Second)
	defer cancel()
	out := map[string]string{}
	ok := true
	for name, check := range s.opts.Ready {
		if err := check(ctx); err != nil {
			out[name] = "unavailable"
			ok = false
			s.log.Warn("readiness check failed", "check", name, "err", err)
		} else {
			out[name] = "ok"
		}
	}
	if !ok {
		return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "checks": out})
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ok", "checks": out})
}
