package httpapi

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/heimdallhub/heimdall/internal/auth"
)

// RateClass names the routes that share one per-caller rate limit.
type RateClass string

// The rate-limited route classes.
const (
	RateDecrypt RateClass = "decrypt" // POST /v1/decrypt
	RateAudit   RateClass = "audit"   // GET /v1/audit
	RateCypher  RateClass = "cypher"  // POST /v1/cypher
	RateIngest  RateClass = "ingest"  // POST /v1/ingest
)

// Rate is a token bucket per caller: PerSecond requests on average, Burst
// at once.
type Rate struct {
	PerSecond float64
	Burst     int
}

// rateClass is the class of a route (method and template); "" for a route
// without a rate limit.
func rateClass(method, route string) RateClass {
	switch method + " " + route {
	case "POST /v1/decrypt":
		return RateDecrypt
	case "GET /v1/audit":
		return RateAudit
	case "POST /v1/cypher":
		return RateCypher
	case "POST /v1/ingest":
		return RateIngest
	}
	return ""
}

// maxCallers bounds the buckets one class keeps. Beyond it (after the idle
// ones are gone) new callers share one bucket, so many identities or
// addresses cannot grow memory, and callers already known keep their own.
const maxCallers = 10_000

// limiter holds one class's buckets, one per caller.
type limiter struct {
	rate     Rate
	max      int
	mu       sync.Mutex
	buckets  map[string]*bucket
	overflow *rate.Limiter
	swept    time.Time
}

type bucket struct {
	tb   *rate.Limiter
	seen time.Time
}

func newLimiter(r Rate, maxBuckets int) *limiter {
	return &limiter{rate: r, max: maxBuckets, buckets: map[string]*bucket{},
		overflow: rate.NewLimiter(rate.Limit(r.PerSecond), r.Burst)}
}

// idle is how long an unused bucket takes to fill up: after that it is the
// same as a new one, so dropping it changes nothing.
func (l *limiter) idle() time.Duration {
	return time.Duration(float64(l.rate.Burst)/l.rate.PerSecond*float64(time.Second)) + time.Second
}

// allow takes a token from key's bucket at now; without one it says how
// long until there is one.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.bucketFor(key, now).ReserveN(now, 1)
	if !r.OK() {
		return false, time.Minute
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// bucketFor finds or makes key's bucket, dropping idle buckets once per
// idle period (at most once a second when the map is full).
func (l *limiter) bucketFor(key string, now time.Time) *rate.Limiter {
	if b, ok := l.buckets[key]; ok {
		b.seen = now
		return b.tb
	}
	since := now.Sub(l.swept)
	if since >= l.idle() || (len(l.buckets) >= l.max && since >= time.Second) {
		l.sweep(now)
	}
	if len(l.buckets) >= l.max {
		return l.overflow
	}
	b := &bucket{tb: rate.NewLimiter(rate.Limit(l.rate.PerSecond), l.rate.Burst), seen: now}
	l.buckets[key] = b
	return b.tb
}

// sweep drops the buckets unused for idle.
func (l *limiter) sweep(now time.Time) {
	l.swept = now
	idle := l.idle()
	for k, b := range l.buckets {
		if now.Sub(b.seen) >= idle {
			delete(l.buckets, k)
		}
	}
}

// size is the number of buckets held (for tests).
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// newLimiters makes the limiters of the classes with a rate.
func newLimiters(rates map[RateClass]Rate) map[RateClass]*limiter {
	out := map[RateClass]*limiter{}
	for class, r := range rates {
		if r.PerSecond > 0 && r.Burst > 0 {
			out[class] = newLimiter(r, maxCallers)
		}
	}
	return out
}

// rateLimit answers 429 with Retry-After when the caller used up its
// class's bucket: before the handler runs, so a refused request writes
// nothing (no audit record, no batch). Callers are the token's issuer and
// subject, or the remote address for requests without a valid token.
func (s *Server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		l := s.limiters[rateClass(c.Request().Method, c.Path())]
		if l == nil {
			return next(c)
		}
		ok, wait := l.allow(callerKey(c.Request()), time.Now())
		if !ok {
			c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
			return problem(http.StatusTooManyRequests, "too many requests of this kind from this caller; retry after the seconds in Retry-After")
		}
		return next(c)
	}
}

// callerKey is whom a request is counted against: the token's issuer and
// subject, else the remote IP address (an IPv6 address by its /64, which
// one client usually holds whole). Forwarding headers are not trusted.
func callerKey(r *http.Request) string {
	if p, ok := auth.FromContext(r.Context()); ok && p.Subject != "" {
		return "sub\x00" + p.Issuer + "\x00" + p.Subject
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return "ip\x00" + host
	}
	if ip.To4() == nil {
		ip = ip.Mask(net.CIDRMask(64, 128))
	}
	return "ip\x00" + ip.String()
}

// retryAfterSeconds rounds a wait up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
