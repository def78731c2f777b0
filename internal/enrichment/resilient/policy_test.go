package resilient

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

func TestPolicyDefaults(t *testing.T) {
	var p Policy
	p.setDefaults()
	want := Policy{Rate: 10, Burst: 1, Concurrency: 4, Timeout: 10 * time.Second, MaxAttempts: 4, MaxElapsed: time.Minute,
		InitialBackoff: 200 * time.Millisecond, MaxBackoff: 10 * time.Second, BreakerFailures: 5,
		BreakerOpenFor: 30 * time.Second, BreakerHalfOpenCalls: 1}
	if p != want {
		t.Errorf("defaults %+v, want %+v", p, want)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	// Set fields stay.
	q := Policy{Rate: 2, InitialBackoff: 20 * time.Second}
	q.setDefaults()
	if q.Rate != 2 || q.MaxBackoff != 20*time.Second {
		t.Errorf("defaults overrode set fields: %+v", q)
	}
}

// TestPolicyValidate proves that Validate reports every problem, not just
// the first.
func TestPolicyValidate(t *testing.T) {
	var zero Policy
	err := zero.Validate()
	if err == nil {
		t.Fatal("the zero policy (before defaults) validated")
	}
	if n := len(strings.Split(err.Error(), "\n")); n != 10 {
		t.Errorf("zero policy: %d problems, want 10 (all but max backoff):\n%v", n, err)
	}
	bad := Policy{Rate: -1, Burst: -1, Concurrency: -1, Timeout: -1, MaxAttempts: -1, MaxElapsed: -1,
		InitialBackoff: time.Second, MaxBackoff: time.Millisecond, BreakerOpenFor: -1}
	bad.setDefaults()
	err = bad.Validate()
	for _, want := range []string{"rate", "burst", "concurrency", "timeout", "max attempts", "max elapsed", "max backoff", "breaker open"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("the problems %v do not mention %s", err, want)
		}
	}
	if _, err := Wrap(&fixed{}, bad, nil); err == nil || !strings.Contains(err.Error(), "wrap provider fixed: invalid policy") {
		t.Errorf("Wrap with a bad policy: %v", err)
	}
	if _, err := Wrap(nil, Policy{}, nil); err == nil {
		t.Error("Wrap(nil) succeeded")
	}
}

// TestForeignErrors proves that errors that are not *enrichment.Error come
// out classified as one.
func TestForeignErrors(t *testing.T) {
	pol := fast()
	pol.MaxAttempts = 2
	for _, c := range []struct {
		err  error
		want enrichment.Class
	}{
		{errors.New("connection refused"), enrichment.ClassUnavailable},
		{context.DeadlineExceeded, enrichment.ClassTimeout},
		{enrichment.Errorf(enrichment.ClassRejected, "no"), enrichment.ClassRejected},
	} {
		f := &fixed{err: c.err}
		p, err := Wrap(f, pol, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Enrich(context.Background(), benchReq)
		if class(t, err) != c.want {
			t.Errorf("%v: got %v, want %s", c.err, err, c.want)
		}
		if want := map[bool]int32{true: 2, false: 1}[c.want.Retriable()]; f.calls.Load() != want {
			t.Errorf("%v: %d calls, want %d", c.err, f.calls.Load(), want)
		}
	}
}
