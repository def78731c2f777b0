package schemaregistry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/heimdallhub/heimdall/events"
	"github.com/heimdallhub/heimdall/internal/config"
	"github.com/heimdallhub/heimdall/internal/schemaregistry/memregistry"
)

const prefix = "/apis/ccompat/v7"

// tlsServer serves h under prefix over TLS with the given version bounds and
// returns its URL (with prefix) and a client TLS configuration trusting it.
func tlsServer(t *testing.T, h http.Handler, minV, maxV uint16) (string, *tls.Config) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = &tls.Config{MinVersion: minV, MaxVersion: maxV}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv.URL + prefix, &tls.Config{RootCAs: pool}
}

const (
	v1 = `{"type":"record","name":"R","namespace":"t","fields":[{"name":"a","type":"string"}]}`
	// v2 adds a field with a default: fully compatible with v1.
	v2 = `{"type":"record","name":"R","namespace":"t","fields":[{"name":"a","type":"string"},{"name":"b","type":"int","default":1}]}`
	// bad adds a field without a default: old data cannot be read.
	bad = `{"type":"record","name":"R","namespace":"t","fields":[{"name":"a","type":"string"},{"name":"c","type":"long"}]}`
)

// The client speaks the Confluent API under a path prefix: compatibility
// levels, registration (idempotent, same id), versions, lookups by id, the
// compatibility check, and the registry's refusals as typed errors.
func TestClientAgainstRegistry(t *testing.T) {
	reg := memregistry.New()
	u, tc := tlsServer(t, reg.Handler(), tls.VersionTLS13, tls.VersionTLS13)
	c, err := New(u, tc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.SetCompatibility(ctx, "t.R", events.CompatibilityFullTransitive); err != nil {
		t.Fatal(err)
	}
	if lvl, err := c.Compatibility(ctx, "t.R"); err != nil || lvl != events.CompatibilityFullTransitive {
		t.Fatalf("compatibility %q, %v", lvl, err)
	}
	id1, err := c.Register(ctx, "t.R", v1)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Register(ctx, "t.R", v1)
	if err != nil || again != id1 {
		t.Fatalf("registering again: id %d, %v (want %d)", again, err, id1)
	}
	if ok, err := c.Compatible(ctx, "t.R", bad); err != nil || ok {
		t.Fatalf("compatibility check of an incompatible schema: %v, %v", ok, err)
	}
	if _, err := c.Register(ctx, "t.R", bad); !errors.Is(err, ErrIncompatible) {
		t.Fatalf("incompatible registration: err = %v", err)
	}
	id2, err := c.Register(ctx, "t.R", v2)
	if err != nil || id2 == id1 {
		t.Fatalf("v2: id %d, %v", id2, err)
	}
	vs, err := c.Versions(ctx, "t.R")
	if err != nil || len(vs) != 2 {
		t.Fatalf("versions %v, %v", vs, err)
	}
	latest, err := c.Version(ctx, "t.R", "latest")
	if err != nil || latest.ID != id2 || latest.Version != 2 {
		t.Fatalf("latest %+v, %v", latest, err)
	}
	if s, err := c.SchemaByID(ctx, id1); err != nil || s != v1 {
		t.Fatalf("schema %d: %q, %v", id1, s, err)
	}
	if _, err := c.SchemaByID(ctx, 4242); !errors.Is(err, events.ErrSchemaNotFound) {
		t.Fatalf("missing id: err = %v", err)
	}
	if subs, err := c.Subjects(ctx); err != nil || len(subs) != 1 || subs[0] != "t.R" {
		t.Fatalf("subjects %v, %v", subs, err)
	}
	reg.ConfigNeedsSubject = true
	if err := c.SetCompatibility(ctx, "t.Other", "FULL"); !errors.Is(err, events.ErrSubjectNotFound) {
		t.Fatalf("config of a missing subject: err = %v", err)
	}
}

// Basic authentication is sent when configured, and no error message
// carries the password.
func TestClientBasicAuth(t *testing.T) {
	reg := memregistry.New()
	reg.User, reg.Password = "heimdall", "s3cret-pw"
	u, tc := tlsServer(t, reg.Handler(), tls.VersionTLS13, tls.VersionTLS13)
	anon, _ := New(u, tc)
	_, err := anon.Register(context.Background(), "t.R", v1)
	var re *Error
	if !errors.As(err, &re) || re.Status != http.StatusUnauthorized {
		t.Fatalf("without credentials: err = %v", err)
	}
	wrong, _ := New(u, tc, WithBasicAuth("heimdall:nope"))
	if _, err := wrong.Register(context.Background(), "t.R", v1); err == nil || strings.Contains(err.Error(), "nope") {
		t.Fatalf("wrong credentials: err = %v", err)
	}
	c, _ := New(u, tc, WithBasicAuth("heimdall:s3cret-pw"))
	if _, err := c.Register(context.Background(), "t.R", v1); err != nil {
		t.Fatal(err)
	}
}

// Every hop is TLS 1.3: plain http is refused, and so is a server that stops
// at TLS 1.2, whatever configuration the caller passes.
func TestClientTLS13Only(t *testing.T) {
	if _, err := New("http://127.0.0.1:1", nil); err == nil {
		t.Fatal("http URL accepted")
	}
	if _, err := New("https://user:pw@127.0.0.1:1", nil); err == nil || strings.Contains(err.Error(), "pw") {
		t.Fatalf("URL with credentials: err = %v", err)
	}
	u, tc := tlsServer(t, memregistry.New().Handler(), tls.VersionTLS12, tls.VersionTLS12)
	tc.MaxVersion = tls.VersionTLS12 // the caller's wish is overridden
	c, _ := New(u, tc, WithAttempts(1))
	if _, err := c.Subjects(context.Background()); err == nil {
		t.Fatal("TLS 1.2 server accepted")
	}
}

// Transport failures and 5xx answers are tried again; 4xx are not.
func TestClientRetries(t *testing.T) {
	reg := memregistry.New()
	var calls atomic.Int32
	flaky := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, `{"error_code":50003,"message":"forwarding"}`, http.StatusServiceUnavailable)
			return
		}
		reg.Handler().ServeHTTP(w, r)
	})
	u, tc := tlsServer(t, flaky, tls.VersionTLS13, tls.VersionTLS13)
	c, _ := New(u, tc)
	if _, err := c.Register(context.Background(), "t.R", v1); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 {
		t.Fatalf("%d calls, want 3", calls.Load())
	}
	calls.Store(10)
	if _, err := c.SchemaByID(context.Background(), 777); err == nil || calls.Load() != 11 {
		t.Fatalf("404 tried %d times: %v", calls.Load()-10, err)
	}
}

// NewCodec from the configuration: without a URL the single-object codec;
// with one, FULL_TRANSITIVE on every subject, every schema version
// registered, Confluent framing, and the registry then refuses an
// incompatible version of a Heimdall record.
func TestNewCodecFromConfig(t *testing.T) {
	plain, err := NewCodec(context.Background(), config.SchemaRegistry{}, "", nil)
	if err != nil || plain.WireFormat() != events.WireSingleObject {
		t.Fatalf("no registry: %v, %v", plain, err)
	}
	reg := memregistry.New()
	mux := http.NewServeMux()
	mux.Handle(prefix+"/", http.StripPrefix(prefix, reg.Handler()))
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS13}
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	codec, err := NewCodec(context.Background(), config.SchemaRegistry{URL: srv.URL + prefix, WireFormat: "confluent"}, caFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if codec.WireFormat() != events.WireConfluent {
		t.Fatalf("wire format %s", codec.WireFormat())
	}
	c, err := New(srv.URL+prefix, &tls.Config{RootCAs: func() *x509.CertPool { p := x509.NewCertPool(); p.AddCert(srv.Certificate()); return p }()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, s := range codec.Schemas() {
		subject := events.Subject(s.Record)
		if lvl, err := c.Compatibility(ctx, subject); err != nil || lvl != events.CompatibilityFullTransitive {
			t.Errorf("%s: compatibility %q, %v", subject, lvl, err)
		}
		v, err := c.Version(ctx, subject, strconv.Itoa(s.Version))
		if err != nil || v.Schema != s.JSON {
			t.Errorf("%s version %d: %v", subject, s.Version, err)
		}
	}
	incompatible, err := os.ReadFile("../../events/testdata/incompatible/entity_observed.v2.avsc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, events.Subject("heimdall.events.EntityObserved"), string(incompatible)); !errors.Is(err, ErrIncompatible) {
		t.Fatalf("incompatible EntityObserved accepted: %v", err)
	}
	// A second start registers nothing new and gets the same ids.
	again, err := NewCodec(ctx, config.SchemaRegistry{URL: srv.URL + prefix, WireFormat: "single-object"}, caFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	for r, id := range codec.SchemaIDs() {
		if again.SchemaIDs()[r] != id {
			t.Fatalf("%s: id %d on the second start, %d on the first", r, again.SchemaIDs()[r], id)
		}
	}
	if again.WireFormat() != events.WireSingleObject {
		t.Fatal("wire format single-object not applied")
	}
}
