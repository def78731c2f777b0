package httpapi

import (
	"io"
	"net/http"
	"strings"
	"time"
)

// Edge limits what one client can hold or send at the HTTP edge.
type Edge struct {
	// ReadHeaderTimeout bounds reading a request's headers (default 10s).
	ReadHeaderTimeout time.Duration
	// BodyIdleTimeout cuts a request whose body sends no byte for this
	// long (default 60s). It is not a total: an upload that keeps sending
	// is never cut, however long it takes.
	BodyIdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's header block (default 32 KiB);
	// beyond it the server answers 431.
	MaxHeaderBytes int
	// Rates are the per-caller rate limits of the rate-limited routes; a
	// class without a rate, or with PerSecond 0, is not limited.
	Rates map[RateClass]Rate
}

// Edge defaults, for a zero field.
const (
	defaultReadHeaderTimeout = 10 * time.Second
	defaultBodyIdleTimeout   = 60 * time.Second
	defaultMaxHeaderBytes    = 32 << 10
)

// withDefaults fills the zero fields of e.
func (e Edge) withDefaults() Edge {
	if e.ReadHeaderTimeout <= 0 {
		e.ReadHeaderTimeout = defaultReadHeaderTimeout
	}
	if e.BodyIdleTimeout <= 0 {
		e.BodyIdleTimeout = defaultBodyIdleTimeout
	}
	if e.MaxHeaderBytes <= 0 {
		e.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	return e
}

// edge wraps next with what holds for every request, before any routing:
// the security headers of the response and the idle timeout of the
// request body.
func (s *Server) edge(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header(), r.URL.Path)
		if r.Body != nil && r.Body != http.NoBody {
			b := newIdleBody(r.Body, http.NewResponseController(w), s.edgeLimits.BodyIdleTimeout)
			r.Body = b
			defer b.finish()
		}
		next.ServeHTTP(w, r)
	})
}

// setSecurityHeaders sets the headers every response carries: HSTS and
// nosniff everywhere, and no-store on the data routes (every /v1 path).
func setSecurityHeaders(h http.Header, path string) {
	h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	h.Set("X-Content-Type-Options", "nosniff")
	if path == "/v1" || strings.HasPrefix(path, "/v1/") {
		h.Set("Cache-Control", "no-store")
	}
}

// deadliner sets the read deadline of a request's connection (an
// *http.ResponseController in the server).
type deadliner interface {
	SetReadDeadline(time.Time) error
}

// idleBody is a request body whose connection read deadline is moved to
// idle from now before every read, so a body that stalls for idle is cut
// (the read fails, the server closes the connection) while one that keeps
// sending is never cut. Once the body ended the deadline is lifted, so the
// server's own read of the idle connection is not cut under a handler
// still at work.
type idleBody struct {
	body  io.ReadCloser
	conn  deadliner
	idle  time.Duration
	ended bool
}

// newIdleBody arms the deadline at once: a body the handler never reads
// (a refused request) is still discarded by the server within idle, so a
// client trickling it without credentials is cut too.
func newIdleBody(body io.ReadCloser, conn deadliner, idle time.Duration) *idleBody {
	b := &idleBody{body: body, conn: conn, idle: idle}
	b.arm()
	return b
}

// arm moves the read deadline to idle from now (best effort: a writer
// without deadlines, as in tests, has none).
func (b *idleBody) arm() { _ = b.conn.SetReadDeadline(time.Now().Add(b.idle)) }

// Read reads from the body with the deadline moved first.
func (b *idleBody) Read(p []byte) (int, error) {
	if b.ended {
		return b.body.Read(p)
	}
	b.arm()
	n, err := b.body.Read(p)
	switch {
	case err == io.EOF:
		b.ended = true
		_ = b.conn.SetReadDeadline(time.Time{})
	case err != nil:
		// A stalled or broken body: the deadline stays, so whatever the
		// server still reads of this connection fails and it closes.
		b.ended = true
	}
	return n, err
}

// Close closes the body.
func (b *idleBody) Close() error { return b.body.Close() }

// finish runs when the handler returned: a body not read to its end is
// discarded by the server, within idle from now.
func (b *idleBody) finish() {
	if !b.ended {
		b.arm()
	}
}

// methodLabel bounds the method label of the HTTP metrics: the standard
// methods by name, anything else as "other".
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// routeLabel bounds the route label: a registered route template, or
// "unmatched" (never the raw path, which carries values).
func (s *Server) routeLabel(template string) string {
	if s.routes[template] {
		return template
	}
	return "unmatched"
}
