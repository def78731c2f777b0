package rdap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heimdallhub/heimdall/internal/enrichment"
	"github.com/heimdallhub/heimdall/internal/enrichment/enrichtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func attrs(kv ...string) []enrichment.Attribute {
	var out []enrichment.Attribute
	for i := 0; i < len(kv); i += 2 {
		out = append(out, enrichment.Attribute{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

// fake is a local RDAP service over TLS 1.3.
type fake struct {
	srv   *httptest.Server
	ca    *enrichtest.CA
	calls atomic.Int32
}

func newFake(t *testing.T, h http.HandlerFunc) *fake {
	t.Helper()
	f := &fake{ca: enrichtest.NewCA(t)}
	f.srv = f.ca.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		h(w, r)
	}))
	return f
}

func (f *fake) client(t *testing.T) *http.Client {
	c := f.ca.Client()
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func (f *fake) provider(t *testing.T, mod func(*Config)) *Provider {
	t.Helper()
	cfg := Config{BaseURL: f.srv.URL + "/rdap/", Client: f.client(t)}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// rdapServer answers the fixtures by path, checking the Accept header.
func rdapServer(t *testing.T) *fake {
	return newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.Contains(r.Header.Get("Accept"), "application/rdap+json") {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		body, ok := map[string]string{
			"/rdap/ip/192.0.2.1":            ipNetworkJSON,
			"/rdap/ip/2001:db8::1":          ipv6NetworkJSON,
			"/rdap/domain/example.com":      domainJSON,
			"/rdap/autnum/64496":            autnumJSON,
			"/rdap/ip/198.51.100.7":         piiIPNetworkJSON,
			"/rdap/domain/personal.example": piiDomainJSON,
		}[r.URL.Path]
		if !ok {
			w.Header().Set("Content-Type", "application/rdap+json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errorCode":404,"title":"Not Found","description":["no such object"]}`)
			return
		}
		w.Header().Set("Content-Type", "application/rdap+json")
		fmt.Fprint(w, body)
	})
}

func enrich(t *testing.T, p *Provider, kind, value string) (enrichment.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.Enrich(ctx, enrichment.Request{Key: kind + "--x", Kind: kind, Value: value})
}

// TestLookups: realistic answers for an IPv4 and an IPv6 network, a domain
// and an autonomous system become exactly the documented attributes and
// relations, in canonical form.
func TestLookups(t *testing.T) {
	f := rdapServer(t)
	p := f.provider(t, nil)
	ns := func(n string) enrichment.Relation {
		return enrichment.Relation{Type: RelHasNameserver, Target: enrichment.Target{Kind: KindDomain, Value: n}}
	}
	cases := []struct {
		name, kind, value string
		attrs             []enrichment.Attribute
		rels              []enrichment.Relation
	}{
		{"ipv4 network", KindIPv4, "192.0.2.1", attrs(
			"handle", "NET-192-0-2-0-1", "name", "EXAMPLE-NET", "type", "DIRECT ALLOCATION", "country", "NL",
			"start_address", "192.0.2.0", "end_address", "192.0.2.255", "cidr", "192.0.2.0/24",
			"parent_handle", "NET-192-0-0-0-0", "status", "active",
			"registered_at", "2001-02-03T04:05:06Z", "last_changed_at", "2023-06-01T10:30:00Z",
			"org", "Example Networks B.V."), nil},
		{"ipv6 network", KindIPv6, "2001:db8::1", attrs(
			"handle", "2001:DB8::/32", "name", "DOC-NET-6", "type", "ALLOCATED-BY-RIR", "country", "AU",
			"start_address", "2001:db8::", "end_address", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "cidr", "2001:db8::/32",
			"status", "active"), nil},
		{"domain", KindDomain, "Example.COM.", attrs(
			"handle", "2138514_DOMAIN_COM-VRSN", "name", "example.com",
			"status", "client delete prohibited", "status", "client transfer prohibited", "status", "client update prohibited",
			"registered_at", "1995-08-14T04:00:00Z", "last_changed_at", "2025-08-14T07:01:34Z",
			"registrar", "RESERVED-Internet Assigned Numbers Authority",
			"nameserver", "a.iana-servers.net", "nameserver", "b.iana-servers.net"),
			[]enrichment.Relation{ns("a.iana-servers.net"), ns("b.iana-servers.net")}},
		{"autnum", KindAS, "64496", attrs(
			"handle", "AS64496", "name", "EXAMPLE-AS", "type", "DIRECT ALLOCATION", "country", "DE", "status", "active",
			"registered_at", "2010-05-06T07:08:09Z"), nil},
		{"autnum with AS prefix", KindAS, "AS64496", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := enrich(t, p, tc.kind, tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if r.NotFound || r.Version != "rdap" || r.Pause != 0 || r.Vector != nil {
				t.Fatalf("result %+v", r)
			}
			if tc.attrs == nil {
				if len(r.Attributes) == 0 {
					t.Fatal("no attributes")
				}
				return
			}
			if !reflect.DeepEqual(r.Attributes, tc.attrs) {
				t.Fatalf("attributes\n got %q\nwant %q", r.Attributes, tc.attrs)
			}
			if !reflect.DeepEqual(r.Relations, tc.rels) {
				t.Fatalf("relations\n got %+v\nwant %+v", r.Relations, tc.rels)
			}
		})
	}
	if p.Type() != "rdap" || p.Name() != "rdap" || len(p.Kinds()) != 4 {
		t.Fatalf("identity %s %s %v", p.Name(), p.Type(), p.Kinds())
	}
}

// TestNoPersonalData: answers full of individuals' vCards (registrants,
// abuse, technical and administrative contacts, nested and top-level, a
// registrant without a kind, a registrar that is an individual) yield no
// name, e-mail, phone or address anywhere in the Result.
func TestNoPersonalData(t *testing.T) {
	f := rdapServer(t)
	p := f.provider(t, nil)
	for _, q := range []struct{ kind, value string }{{KindIPv4, "198.51.100.7"}, {KindDomain, "personal.example"}, {KindAS, "64496"}, {KindIPv4, "192.0.2.1"}} {
		r, err := enrich(t, p, q.kind, q.value)
		if err != nil {
			t.Fatal(err)
		}
		dump := fmt.Sprintf("%#v", r)
		for _, s := range append(personal, "Johann Doe", "johann.doe", "noc@example.net", "555 0199", "Keizersgracht", "Network Operations", "abuse@registrar", "3103015800") {
			if strings.Contains(dump, s) {
				t.Errorf("%s %s: personal data %q in the result %s", q.kind, q.value, s, dump)
			}
		}
		for _, a := range r.Attributes {
			if a.Name == AttrOrg && q.value == "198.51.100.7" || a.Name == AttrRegistrar && q.value == "personal.example" {
				t.Errorf("%s %s: attribute %+v from a personal contact", q.kind, q.value, a)
			}
		}
		if len(r.Attributes) == 0 {
			t.Errorf("%s %s: the organisational facts are missing", q.kind, q.value)
		}
	}
}

func wantClass(t *testing.T, err error, class enrichment.Class, forbidden ...string) *enrichment.Error {
	t.Helper()
	var e *enrichment.Error
	if !errors.As(err, &e) || e.Class != class {
		t.Fatalf("err = %v (%T), want class %s", err, err, class)
	}
	for _, s := range forbidden {
		if s != "" && (strings.Contains(e.Error(), s) || strings.Contains(enrichment.Reason(err), s)) {
			t.Fatalf("error %q quotes %q", e.Error(), s)
		}
	}
	return e
}

// TestFailures: every kind of bad answer is classified as the contract
// says, and no error quotes the value, the URL or the answer.
func TestFailures(t *testing.T) {
	const value = "192.0.2.99"
	big := `{"objectClassName":"ip network","remarks":[{"description":["` + strings.Repeat("x", 8<<10) + `"]}]}`
	cases := []struct {
		name  string
		h     http.HandlerFunc
		class enrichment.Class // "" means NotFound
		retry time.Duration
	}{
		{"404", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "{}", http.StatusNotFound) }, "", 0},
		{"429 retry-after", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "7")
			http.Error(w, "slow down SECRET-ANSWER", http.StatusTooManyRequests)
		}, enrichment.ClassRateLimited, 7 * time.Second},
		{"500", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "SECRET-ANSWER", http.StatusInternalServerError)
		}, enrichment.ClassUnavailable, 0},
		{"400", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "SECRET-ANSWER", http.StatusBadRequest) }, enrichment.ClassRejected, 0},
		{"malformed json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/rdap+json")
			fmt.Fprint(w, `{"objectClassName":"ip network","handle":"SECRET-ANSWER",`)
		}, enrichment.ClassBadResponse, 0},
		{"wrong types", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/rdap+json")
			fmt.Fprint(w, `{"objectClassName":"ip network","status":"SECRET-ANSWER"}`)
		}, enrichment.ClassBadResponse, 0},
		{"not an object", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/rdap+json")
			fmt.Fprint(w, `["SECRET-ANSWER"]`)
		}, enrichment.ClassBadResponse, 0},
		{"wrong object class", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/rdap+json")
			fmt.Fprint(w, domainJSON)
		}, enrichment.ClassBadResponse, 0},
		{"error object with 200", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/rdap+json")
			fmt.Fprint(w, `{"errorCode":404,"title":"SECRET-ANSWER"}`)
		}, enrichment.ClassBadResponse, 0},
		{"trailing data", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/rdap+json")
			fmt.Fprint(w, ipNetworkJSON+` {"x":1}`)
		}, enrichment.ClassBadResponse, 0},
		{"oversized body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/rdap+json")
			fmt.Fprint(w, big)
		}, enrichment.ClassBadResponse, 0},
		{"nested too deep", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/rdap+json")
			fmt.Fprint(w, `{"objectClassName":"ip network","remarks":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`}`)
		}, enrichment.ClassBadResponse, 0},
		{"html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<html><body>SECRET-ANSWER</body></html>`)
		}, enrichment.ClassBadResponse, 0},
		{"plain text that is not json", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `SECRET-ANSWER is not json`)
		}, enrichment.ClassBadResponse, 0},
		{"empty 200", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/rdap+json")
		}, enrichment.ClassBadResponse, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.h)
			p := f.provider(t, func(c *Config) { c.MaxBody = 4 << 10 })
			r, err := enrich(t, p, KindIPv4, value)
			if tc.class == "" {
				if err != nil || !r.NotFound || len(r.Attributes) != 0 || len(r.Relations) != 0 {
					t.Fatalf("got %+v, %v; want NotFound", r, err)
				}
				return
			}
			e := wantClass(t, err, tc.class, value, f.srv.URL, strings.TrimPrefix(f.srv.URL, "https://"), "SECRET-ANSWER", "/rdap/")
			if e.RetryAfter != tc.retry {
				t.Fatalf("RetryAfter = %v, want %v", e.RetryAfter, tc.retry)
			}
			if fmt.Sprint(err) == "" || !strings.HasPrefix(err.Error(), string(tc.class)) {
				t.Fatalf("error text %q", err)
			}
		})
	}
}

// TestQuotaPause: a successful answer that says the quota is used up
// (X-RateLimit-Remaining 0) asks for a pause until the reset; so does a 404.
func TestQuotaPause(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", "30")
		if strings.HasSuffix(r.URL.Path, "/autnum/1") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/rdap+json")
		fmt.Fprint(w, autnumJSON)
	})
	p := f.provider(t, nil)
	r, err := enrich(t, p, KindAS, "64496")
	if err != nil || r.Pause != 30*time.Second || len(r.Attributes) == 0 {
		t.Fatalf("got %+v, %v", r, err)
	}
	r, err = enrich(t, p, KindAS, "1")
	if err != nil || !r.NotFound || r.Pause != 30*time.Second {
		t.Fatalf("not found: got %+v, %v", r, err)
	}
}

// TestTimeoutAndUnreachable: a passed deadline is ClassTimeout, a server
// that is gone is ClassUnavailable, a cancelled call ClassCanceled.
func TestTimeoutAndUnreachable(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	p := f.provider(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err := p.Enrich(ctx, enrichment.Request{Kind: KindIPv4, Value: "192.0.2.1"})
	wantClass(t, err, enrichment.ClassTimeout, "192.0.2.1")

	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel2)
	_, err = p.Enrich(ctx2, enrichment.Request{Kind: KindIPv4, Value: "192.0.2.1"})
	wantClass(t, err, enrichment.ClassCanceled, "192.0.2.1")

	gone := newFake(t, func(http.ResponseWriter, *http.Request) {})
	pg := gone.provider(t, nil)
	gone.srv.Close()
	_, err = enrich(t, pg, KindIPv4, "192.0.2.1")
	wantClass(t, err, enrichment.ClassUnavailable, "192.0.2.1", gone.srv.URL)
}

// TestUntrustedServer: a server whose certificate the client's CA did not
// sign is unavailable (the TLS handshake fails); nothing falls back.
func TestUntrustedServer(t *testing.T) {
	f := rdapServer(t)
	other := enrichtest.NewCA(t).Client()
	t.Cleanup(other.CloseIdleConnections)
	p, err := New(Config{BaseURL: f.srv.URL, Client: other})
	if err != nil {
		t.Fatal(err)
	}
	_, err = enrich(t, p, KindIPv4, "192.0.2.1")
	wantClass(t, err, enrichment.ClassUnavailable)
	if f.calls.Load() != 0 {
		t.Fatalf("%d requests reached the server", f.calls.Load())
	}
}

// TestBadValues: values that are not of their kind, and kinds the provider
// was not configured for, are rejected before any request.
func TestBadValues(t *testing.T) {
	f := rdapServer(t)
	p := f.provider(t, func(c *Config) { c.Kinds = []string{KindIPv4, KindDomain, KindAS} })
	for _, q := range []struct{ kind, value string }{
		{KindIPv4, "2001:db8::1"}, {KindIPv4, "192.0.2.1/24"}, {KindIPv4, "../../etc"}, {KindIPv6, "2001:db8::1"},
		{KindDomain, "exa mple.com"}, {KindDomain, "a/../b.com"}, {KindDomain, "x.com?y=1"}, {KindDomain, ""},
		{KindDomain, strings.Repeat("a", 64) + ".com"}, {KindAS, "-1"}, {KindAS, "4294967296"}, {KindAS, "ASx"}, {KindAS, "12/../3"},
		{"url", "https://example.com/"},
	} {
		_, err := enrich(t, p, q.kind, q.value)
		wantClass(t, err, enrichment.ClassRejected, q.value)
	}
	if n := f.calls.Load(); n != 0 {
		t.Fatalf("%d requests made for bad values", n)
	}
}

// TestRedirects: an https redirect (as bootstrap services send) is
// followed; one to plain http is refused.
func TestRedirects(t *testing.T) {
	target := rdapServer(t)
	var to atomic.Value
	to.Store(target.srv.URL)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, to.Load().(string)+r.URL.Path, http.StatusFound)
	})
	// Both servers' CAs: build a client that trusts the redirecting
	// server and the target.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(f.ca.PEM())
	pool.AppendCertsFromPEM(target.ca.PEM())
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool}}}
	t.Cleanup(hc.CloseIdleConnections)
	p, err := New(Config{BaseURL: f.srv.URL + "/rdap", Client: hc})
	if err != nil {
		t.Fatal(err)
	}
	r, err := enrich(t, p, KindAS, "64496")
	if err != nil || len(r.Attributes) == 0 {
		t.Fatalf("redirect not followed: %+v, %v", r, err)
	}
	to.Store("http://" + strings.TrimPrefix(target.srv.URL, "https://"))
	_, err = enrich(t, p, KindAS, "64496")
	wantClass(t, err, enrichment.ClassRejected, "64496")
}

// countingTransport is a RoundTripper that is not an *http.Transport.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// TestUsesConfiguredClient: every request goes through Config.Client, and
// concurrent calls are safe.
func TestUsesConfiguredClient(t *testing.T) {
	f := rdapServer(t)
	ct := &countingTransport{next: f.client(t).Transport}
	p, err := New(Config{BaseURL: f.srv.URL + "/rdap", Client: &http.Client{Transport: ct}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			value := []string{"192.0.2.1", "example.com", "64496", "192.0.2.2"}[i%4]
			kind := []string{KindIPv4, KindDomain, KindAS, KindIPv4}[i%4]
			r, err := enrich(t, p, kind, value)
			if err != nil || (value == "192.0.2.2") != r.NotFound {
				t.Errorf("%s: %+v, %v", value, r, err)
			}
		})
	}
	wg.Wait()
	if ct.n.Load() != 16 || f.calls.Load() != 16 {
		t.Fatalf("transport saw %d, server %d requests, want 16", ct.n.Load(), f.calls.Load())
	}
}

// TestConfig: defaults, and Validate reports every problem at once without
// accepting plaintext or weak TLS.
func TestConfig(t *testing.T) {
	ca := enrichtest.NewCA(t)
	good := ca.Client()
	t.Cleanup(good.CloseIdleConnections)
	weak := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}}}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none means valid
	}{
		{"ok", Config{BaseURL: "https://rdap.example/", Client: good}, nil},
		{"ok with path", Config{BaseURL: "https://rdap.example:8443/rdap", Client: good, Kinds: []string{KindAS}}, nil},
		{"plain http", Config{BaseURL: "http://rdap.example/", Client: good}, []string{"https"}},
		{"no base", Config{Client: good}, []string{"no base URL"}},
		{"credentials", Config{BaseURL: "https://u:p@rdap.example/", Client: good}, []string{"credentials"}},
		{"query", Config{BaseURL: "https://rdap.example/?x=1", Client: good}, []string{"query"}},
		{"no host", Config{BaseURL: "https:///rdap", Client: good}, []string{"no host"}},
		{"no client", Config{BaseURL: "https://rdap.example/"}, []string{"no HTTP client"}},
		{"default client", Config{BaseURL: "https://rdap.example/", Client: http.DefaultClient}, []string{"default transport"}},
		{"weak tls", Config{BaseURL: "https://rdap.example/", Client: weak}, []string{"TLS 1.3"}},
		{"insecure", Config{BaseURL: "https://rdap.example/", Client: insecure}, []string{"verify"}},
		{"everything", Config{BaseURL: "ftp://rdap.example/", Kinds: []string{"url", "email-addr"}, MaxBody: -1},
			[]string{"https", `"url"`, `"email-addr"`, "no HTTP client", "max body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.cfg)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if p.maxBody != DefaultMaxBody || p.Name() != "rdap" || len(p.Kinds()) == 0 {
					t.Fatalf("defaults: %+v", p)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
