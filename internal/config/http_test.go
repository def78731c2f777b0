package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestHTTPLimits: the edge limits read with their defaults, per-class rates
// included, and bad values are refused naming the variable.
func TestHTTPLimits(t *testing.T) {
	read := func(m map[string]string) (HTTP, error) {
		r := reader{lookup: env(m), defaults: map[string]string{}}
		for _, v := range Vars {
			r.defaults[v.Name] = v.Default
		}
		h := r.http()
		return h, errors.Join(r.errs...)
	}
	h, err := read(nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.ReadHeaderTimeout != 10*time.Second || h.BodyIdleTimeout != time.Minute || h.MaxHeaderBytes != 32768 {
		t.Fatalf("defaults: %+v", h)
	}
	if h.Rates["decrypt"] != (RateLimit{PerSecond: 2, Burst: 30}) || len(h.Rates) != len(RateClasses()) {
		t.Fatalf("default rates: %+v", h.Rates)
	}
	h, err = read(map[string]string{"HEIMDALL_RATE_CYPHER_PER_SECOND": "0.5", "HEIMDALL_RATE_CYPHER_BURST": "4", "HEIMDALL_RATE_INGEST_PER_SECOND": "0"})
	if err != nil || h.Rates["cypher"] != (RateLimit{PerSecond: 0.5, Burst: 4}) || h.Rates["ingest"].PerSecond != 0 {
		t.Fatalf("set rates: %+v %v", h.Rates, err)
	}
	for name, value := range map[string]string{
		"HEIMDALL_HTTP_BODY_IDLE_TIMEOUT":   "0s",
		"HEIMDALL_HTTP_READ_HEADER_TIMEOUT": "soon",
		"HEIMDALL_HTTP_MAX_HEADER_BYTES":    "10",
		"HEIMDALL_RATE_DECRYPT_PER_SECOND":  "-1",
		"HEIMDALL_RATE_AUDIT_PER_SECOND":    "NaN",
		"HEIMDALL_RATE_AUDIT_BURST":         "0",
	} {
		if _, err := read(map[string]string{name: value}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: %v", name, value, err)
		}
	}
}
