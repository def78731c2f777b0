package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// recordingConn records the read deadlines an idleBody sets.
type recordingConn struct{ deadlines []time.Time }

func (r *recordingConn) SetReadDeadline(t time.Time) error {
	r.deadlines = append(r.deadlines, t)
	return nil
}

// The deadline is armed at once and moved before every read; the end of
// the body lifts it; a body left unread is re-armed when the handler is
// done.
func TestIdleBodyDeadlines(t *testing.T) {
	conn := &recordingConn{}
	b := newIdleBody(io.NopCloser(strings.NewReader("abc")), conn, time.Minute)
	if len(conn.deadlines) != 1 || time.Until(conn.deadlines[0]) < 50*time.Second {
		t.Fatalf("not armed at once: %v", conn.deadlines)
	}
	buf := make([]byte, 2)
	if _, err := b.Read(buf); err != nil {
		t.Fatal(err)
	}
	if len(conn.deadlines) != 2 {
		t.Fatalf("not moved before a read: %v", conn.deadlines)
	}
	for {
		if _, err := b.Read(buf); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if last := conn.deadlines[len(conn.deadlines)-1]; !last.IsZero() {
		t.Fatalf("the end of the body did not lift the deadline: %v", conn.deadlines)
	}
	n := len(conn.deadlines)
	b.finish()
	if len(conn.deadlines) != n {
		t.Fatal("finish re-armed a body read to its end")
	}

	unread := &recordingConn{}
	newIdleBody(io.NopCloser(strings.NewReader("abc")), unread, time.Minute).finish()
	if len(unread.deadlines) != 2 || unread.deadlines[1].IsZero() {
		t.Fatalf("an unread body is not discarded within the idle timeout: %v", unread.deadlines)
	}
}

// Every response has HSTS and nosniff; every /v1 response no-store.
func TestSecurityHeaders(t *testing.T) {
	h := fullServer().Handler()
	for path, noStore := range map[string]bool{"/healthz": false, "/v1/openapi.json": true, "/v1/entities/x": true, "/nowhere": false} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Header().Get("Strict-Transport-Security") == "" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s (%d): headers %v", path, rec.Code, rec.Header())
		}
		if got := rec.Header().Get("Cache-Control") == "no-store"; got != noStore {
			t.Errorf("%s (%d): Cache-Control %q", path, rec.Code, rec.Header().Get("Cache-Control"))
		}
	}
}

// seriesCount is the number of series of every metric in reg.
func seriesCount(t *testing.T, reg *prometheus.Registry) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		n += len(mf.GetMetric())
	}
	return n
}

// Made-up methods and paths add no metric series: methods outside the
// standard ones are "other", paths outside the routes "unmatched".
func TestMetricLabelsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(Options{Logger: fullServer().log, Registry: reg, Verifier: noVerifier{}, Entities: noGraph{}})
	h := s.Handler()
	send := func(method, path string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	}
	round := func(i int) {
		send("FOO"+strconv.Itoa(i), "/healthz")
		send("FOO"+strconv.Itoa(i), "/v1/entities/k"+strconv.Itoa(i))
		send(http.MethodGet, "/made-up/"+strconv.Itoa(i))
	}
	round(0)
	before := seriesCount(t, reg)
	for i := range 1000 {
		round(i + 1)
	}
	if after := seriesCount(t, reg); after != before {
		t.Fatalf("series before %d, after %d", before, after)
	}
	for _, m := range []string{http.MethodGet, "PATCH", "DELETE"} {
		if methodLabel(m) != m {
			t.Errorf("%s is a standard method", m)
		}
	}
}
