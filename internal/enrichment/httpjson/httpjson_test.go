package httpjson

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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

const secret = "s3cr3t-API-key-0123456789abcdef"

func attrs(kv ...string) []enrichment.Attribute {
	var out []enrichment.Attribute
	for i := 0; i < len(kv); i += 2 {
		out = append(out, enrichment.Attribute{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

type fake struct {
	srv   *httptest.Server
	ca    *enrichtest.CA
	calls atomic.Int32
	mu    sync.Mutex
	last  *http.Request
	body  []byte
}

func newFake(t *testing.T, h http.HandlerFunc) *fake {
	t.Helper()
	f := &fake{ca: enrichtest.NewCA(t)}
	f.srv = f.ca.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.last, f.body = r, b
		f.mu.Unlock()
		h(w, r)
	}))
	return f
}

func (f *fake) lastRequest() (*http.Request, []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last, f.body
}

func (f *fake) client(t *testing.T) *http.Client {
	c := f.ca.Client()
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func (f *fake) provider(t *testing.T, cfg Config) *Provider {
	t.Helper()
	cfg.URL = strings.ReplaceAll(cfg.URL, "{srv}", f.srv.URL)
	if cfg.Client == nil {
		cfg.Client = f.client(t)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func enrich(t *testing.T, p *Provider, kind, value string) (enrichment.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.Enrich(ctx, enrichment.Request{Key: kind + "--x", Kind: kind, Value: value})
}

// abuseIPDB answers like AbuseIPDB's v2 check endpoint.
func abuseIPDB(t *testing.T) *fake {
	return newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Key") != secret {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"detail":"Authentication failed. Your API key is either missing, incorrect, or revoked.","status":401}]}`)
			return
		}
		if r.Method != http.MethodGet || r.URL.Path != "/api/v2/check" || r.URL.Query().Get("maxAgeInDays") != "90" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		ip := r.URL.Query().Get("ipAddress")
		score, tor := 87, false
		if ip == "192.0.2.10" {
			score, tor = 0, true
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-RateLimit-Limit", "1000")
		w.Header().Set("X-RateLimit-Remaining", "998")
		fmt.Fprintf(w, `{"data":{"ipAddress":%q,"isPublic":true,"ipVersion":4,"isWhitelisted":false,"abuseConfidenceScore":%d,
			"countryCode":"NL","usageType":"Data Center","isp":"Example Hosting","domain":"example.net","hostnames":[],
			"isTor":%v,"totalReports":12,"numDistinctUsers":5,"lastReportedAt":"2026-11-20T10:00:00+00:00"}}`, ip, score, tor)
	})
}

func abuseConfig() Config {
	return Config{
		Name: "abuse", Kinds: []string{"ipv4-addr", "ipv6-addr"},
		URL:        "{srv}/api/v2/check?ipAddress={value}&maxAgeInDays=90",
		AuthHeader: "Key", AuthValue: secret,
		Fields: map[string]string{"score": "data.abuseConfidenceScore", "country": "data.countryCode",
			"tor": "data.isTor", "usage": "data.usageType", "reports": "data.totalReports", "hostname": "data.hostnames[]"},
		Verdict: &VerdictRule{Path: "data.abuseConfidenceScore", Malicious: 75, Suspicious: 25},
	}
}

// TestAbuseIPDBLike: a GET with the value in the query and the key in a
// header; fields and the verdict come out as attributes.
func TestAbuseIPDBLike(t *testing.T) {
	f := abuseIPDB(t)
	p := f.provider(t, abuseConfig())
	r, err := enrich(t, p, "ipv4-addr", "198.51.100.7")
	if err != nil {
		t.Fatal(err)
	}
	want := attrs("verdict", "malicious", "country", "NL", "reports", "12", "score", "87", "tor", "false", "usage", "Data Center")
	if !reflect.DeepEqual(r.Attributes, want) || r.NotFound || r.Pause != 0 || len(r.Relations) != 0 {
		t.Fatalf("got %+v\nwant %q", r, want)
	}
	req, _ := f.lastRequest()
	if req.Header.Get("Accept") != "application/json" || req.URL.Query().Get("ipAddress") != "198.51.100.7" {
		t.Fatalf("request %v %v", req.Header, req.URL)
	}
	r, err = enrich(t, p, "ipv4-addr", "192.0.2.10")
	if err != nil || !reflect.DeepEqual(r.Attributes, attrs("verdict", "clean", "country", "NL", "reports", "12", "score", "0", "tor", "true", "usage", "Data Center")) {
		t.Fatalf("clean: %+v, %v", r, err)
	}
	if p.Name() != "abuse" || p.Type() != "http" || !reflect.DeepEqual(p.Kinds(), []string{"ipv4-addr", "ipv6-addr"}) {
		t.Fatalf("identity %s %s %v", p.Name(), p.Type(), p.Kinds())
	}
}

// TestVirusTotalLike: the value in the path, the key in x-apikey, nested
// statistics, an array of tags as several attributes, a per-engine map
// through a wildcard.
func TestVirusTotalLike(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("x-apikey") != secret {
			http.Error(w, `{"error":{"code":"WrongCredentialsError"}}`, http.StatusUnauthorized)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, "/api/v3/domains/")
		if !ok || name != "evil.example" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"code":"NotFoundError","message":"Domain \"x\" not found"}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprint(w, `{"data":{"id":"evil.example","type":"domain","links":{"self":"https://www.virustotal.com/api/v3/domains/evil.example"},
		  "attributes":{"last_analysis_date":1732700000,"reputation":-25,"tags":["phishing","dga"],
		    "last_analysis_stats":{"harmless":55,"malicious":7,"suspicious":2,"undetected":20,"timeout":0},
		    "last_analysis_results":{"EngineB":{"category":"malicious","result":"phishing"},"EngineA":{"category":"harmless","result":"clean"}},
		    "categories":{"Forcepoint ThreatSeeker":"phishing and other frauds"},"registrar":"Example Registrar, Inc."}}}`)
	})
	p := f.provider(t, Config{
		Name: "vt", Kinds: []string{"domain-name"},
		URL:        "{srv}/api/v3/domains/{value}",
		AuthHeader: "x-apikey", AuthValue: secret,
		Fields: map[string]string{"malicious": "data.attributes.last_analysis_stats.malicious", "reputation": "data.attributes.reputation",
			"tag": "data.attributes.tags[]", "engine_result": "data.attributes.last_analysis_results.*.result", "analysed_at": "data.attributes.last_analysis_date"},
		Verdict: &VerdictRule{Path: "data.attributes.last_analysis_stats.malicious", Malicious: 5, Suspicious: 1},
	})
	r, err := enrich(t, p, "domain-name", "evil.example")
	if err != nil {
		t.Fatal(err)
	}
	want := attrs("verdict", "malicious", "analysed_at", "1732700000", "engine_result", "clean", "engine_result", "phishing",
		"malicious", "7", "reputation", "-25", "tag", "phishing", "tag", "dga")
	if !reflect.DeepEqual(r.Attributes, want) {
		t.Fatalf("got %q\nwant %q", r.Attributes, want)
	}
	r, err = enrich(t, p, "domain-name", "unknown.example")
	if err != nil || !r.NotFound || len(r.Attributes) != 0 {
		t.Fatalf("unknown domain: %+v, %v", r, err)
	}
}

// TestVerdictThresholds: the score maps to malicious, suspicious or clean
// at the configured thresholds (inclusive), numeric strings count, the
// largest of several scores wins, a missing or non-numeric score gives no
// verdict, and suspicious 0 means no suspicious band.
func TestVerdictThresholds(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.URL.Query().Get("doc"))
	})
	cfg := Config{Kinds: []string{"ipv4-addr"}, URL: "{srv}/score?doc={value}", Verdict: &VerdictRule{Path: "s", Malicious: 75, Suspicious: 25}}
	p := f.provider(t, cfg)
	noBand := f.provider(t, Config{Kinds: cfg.Kinds, URL: cfg.URL, Verdict: &VerdictRule{Path: "s", Malicious: 1}})
	for _, tc := range []struct {
		p    *Provider
		doc  string
		want string // "" means no verdict
	}{
		{p, `{"s":100}`, "malicious"}, {p, `{"s":75}`, "malicious"}, {p, `{"s":74.999}`, "suspicious"},
		{p, `{"s":25}`, "suspicious"}, {p, `{"s":24}`, "clean"}, {p, `{"s":0}`, "clean"}, {p, `{"s":-5}`, "clean"},
		{p, `{"s":"80"}`, "malicious"}, {p, `{"s":" 30 "}`, "suspicious"}, {p, `{"s":[10,80,30]}`, "malicious"},
		{p, `{}`, ""}, {p, `{"s":null}`, ""}, {p, `{"s":"high"}`, ""}, {p, `{"s":"NaN"}`, ""}, {p, `{"s":"Inf"}`, ""},
		{p, `{"s":true}`, ""}, {p, `{"s":{"x":99}}`, ""}, {p, `{"s":1e999}`, ""},
		{noBand, `{"s":0.5}`, "clean"}, {noBand, `{"s":1}`, "malicious"}, {noBand, `{"s":0}`, "clean"},
	} {
		r, err := enrich(t, tc.p, "ipv4-addr", tc.doc)
		if err != nil {
			t.Fatalf("%s: %v", tc.doc, err)
		}
		var got string
		for _, a := range r.Attributes {
			if a.Name == AttrVerdict {
				got = a.Value
			}
		}
		if got != tc.want || len(r.Attributes) > 1 {
			t.Errorf("%s: verdict %q (%v), want %q", tc.doc, got, r.Attributes, tc.want)
		}
	}
}

// errorTexts is every text an error shows: its message, its formatted
// forms and the messages of everything it wraps.
func errorTexts(err error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v|%+v|%s|%q|%s", err, err, err, err, enrichment.Reason(err))
	for e := err; e != nil; e = errors.Unwrap(e) {
		b.WriteString("|" + e.Error())
	}
	return b.String()
}

func wantClass(t *testing.T, err error, class enrichment.Class, forbidden ...string) *enrichment.Error {
	t.Helper()
	var e *enrichment.Error
	if !errors.As(err, &e) || e.Class != class {
		t.Fatalf("err = %v (%T), want class %s", err, err, class)
	}
	texts := errorTexts(err)
	for _, s := range append(forbidden, secret) {
		if s != "" && strings.Contains(texts, s) {
			t.Fatalf("error texts %q contain %q", texts, s)
		}
	}
	return e
}

// TestAuth: the auth header is really sent (the server checks it), a wrong
// key is a 401 that is ClassRejected, and no error or validation message
// ever holds the secret.
func TestAuth(t *testing.T) {
	f := abuseIPDB(t)
	cfg := abuseConfig()
	cfg.AuthValue = "wrong-" + secret[:10]
	p := f.provider(t, cfg)
	_, err := enrich(t, p, "ipv4-addr", "198.51.100.7")
	wantClass(t, err, enrichment.ClassRejected, cfg.AuthValue, "198.51.100.7", f.srv.URL)
	req, _ := f.lastRequest()
	if req.Header.Get("Key") != cfg.AuthValue {
		t.Fatalf("auth header not sent: %v", req.Header)
	}
	cfg.AuthHeader = ""
	cfg.URL = strings.ReplaceAll(cfg.URL, "{srv}", f.srv.URL)
	cfg.Client = f.client(t)
	if _, err := New(cfg); err == nil || strings.Contains(err.Error(), cfg.AuthValue) {
		t.Fatalf("auth value without header: %v", err)
	}
	for _, bad := range []string{secret + "\r\nX-Evil: 1", " " + secret, secret + "\x00"} {
		cfg.AuthHeader, cfg.AuthValue = "Key", bad
		_, err := New(cfg)
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Fatalf("bad auth value: %v", err)
		}
	}
	// A Bearer token goes in Authorization as given.
	bearer := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+secret {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		fmt.Fprint(w, `{"seen":true,"classification":"malicious"}`)
	})
	pb := bearer.provider(t, Config{Kinds: []string{"ipv4-addr"}, URL: "{srv}/v3/community/{value}", AuthHeader: "Authorization",
		AuthValue: "Bearer " + secret, Fields: map[string]string{"classification": "classification"}})
	r, err := enrich(t, pb, "ipv4-addr", "192.0.2.1")
	if err != nil || !reflect.DeepEqual(r.Attributes, attrs("classification", "malicious")) {
		t.Fatalf("bearer: %+v, %v", r, err)
	}
}

// TestSecretNeverStored: an API that echoes the key back does not get it
// into the attributes (neither the whole value nor the token after
// "Bearer ").
func TestSecretNeverStored(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"echo":%q,"token":%q,"ok":"fine"}`, "you sent "+r.Header.Get("Authorization"), strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	})
	p := f.provider(t, Config{Kinds: []string{"url"}, URL: "{srv}/x?u={value}", AuthHeader: "Authorization", AuthValue: "Bearer " + secret,
		Fields: map[string]string{"echo": "echo", "token": "token", "ok": "ok"}})
	r, err := enrich(t, p, "url", "https://example.com/")
	if err != nil || !reflect.DeepEqual(r.Attributes, attrs("ok", "fine")) {
		t.Fatalf("got %+v, %v", r, err)
	}
}

// TestFailures: statuses and bad answers are classified as the contract
// says; no error quotes the value, the URL, the answer or the secret.
func TestFailures(t *testing.T) {
	const value = "203.0.113.77"
	cases := []struct {
		name  string
		h     http.HandlerFunc
		class enrichment.Class
		retry time.Duration
	}{
		{"429 retry-after and quota", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "12")
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", "60")
			http.Error(w, `{"errors":[{"detail":"Daily rate limit of 1000 requests exceeded SECRET-ANSWER"}]}`, http.StatusTooManyRequests)
		}, enrichment.ClassRateLimited, 60 * time.Second},
		{"429 retry-after", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "12")
			w.WriteHeader(http.StatusTooManyRequests)
		}, enrichment.ClassRateLimited, 12 * time.Second},
		{"403", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "SECRET-ANSWER", http.StatusForbidden) }, enrichment.ClassRejected, 0},
		{"422", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"errors":[{"detail":"The ip address must be a valid IPv4 or IPv6 address SECRET-ANSWER"}]}`, http.StatusUnprocessableEntity)
		}, enrichment.ClassRejected, 0},
		{"500", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "SECRET-ANSWER", http.StatusInternalServerError)
		}, enrichment.ClassUnavailable, 0},
		{"503 retry-after", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusServiceUnavailable)
		}, enrichment.ClassUnavailable, 3 * time.Second},
		{"malformed json", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"data":{"score":"SECRET-ANSWER"`) }, enrichment.ClassBadResponse, 0},
		{"trailing data", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"a":1} SECRET-ANSWER`) }, enrichment.ClassBadResponse, 0},
		{"html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<html>SECRET-ANSWER</html>`)
		}, enrichment.ClassBadResponse, 0},
		{"oversized", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"data":"`+strings.Repeat("A", 5000)+`SECRET-ANSWER"}`)
		}, enrichment.ClassBadResponse, 0},
		{"deep", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, strings.Repeat(`{"a":`, 100)+`1`+strings.Repeat(`}`, 100))
		}, enrichment.ClassBadResponse, 0},
		{"empty", func(w http.ResponseWriter, r *http.Request) {}, enrichment.ClassBadResponse, 0},
		{"404 not configured as not found", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, enrichment.ClassRejected, 0},
		{"redirect elsewhere", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://localhost:1/steal?k=SECRET-ANSWER", http.StatusFound)
		}, enrichment.ClassRejected, 0},
		{"redirect to http", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://"+r.Host+"/plain", http.StatusFound)
		}, enrichment.ClassRejected, 0},
		{"redirect loop", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/again", http.StatusFound)
		}, enrichment.ClassRejected, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.h)
			p := f.provider(t, Config{Kinds: []string{"ipv4-addr"}, URL: "{srv}/check/{value}", AuthHeader: "Key", AuthValue: secret,
				Fields: map[string]string{"score": "data.score"}, NotFoundStatus: []int{400}, MaxBody: 4096})
			r, err := enrich(t, p, "ipv4-addr", value)
			e := wantClass(t, err, tc.class, value, f.srv.URL, strings.TrimPrefix(f.srv.URL, "https://"), "SECRET-ANSWER", "/check/", "localhost")
			if e.RetryAfter != tc.retry {
				t.Fatalf("RetryAfter %v, want %v", e.RetryAfter, tc.retry)
			}
			if r.NotFound || len(r.Attributes) != 0 {
				t.Fatalf("result with an error: %+v", r)
			}
		})
	}
}

// TestTimeoutAndUnreachable: a passed deadline is ClassTimeout, a closed
// server ClassUnavailable; neither quotes the secret.
func TestTimeoutAndUnreachable(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	cfg := Config{Kinds: []string{"ipv4-addr"}, URL: "{srv}/check?ip={value}", AuthHeader: "Key", AuthValue: secret, Fields: map[string]string{"a": "a"}}
	p := f.provider(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err := p.Enrich(ctx, enrichment.Request{Kind: "ipv4-addr", Value: "192.0.2.1"})
	wantClass(t, err, enrichment.ClassTimeout, "192.0.2.1")

	gone := newFake(t, func(http.ResponseWriter, *http.Request) {})
	pg := gone.provider(t, cfg)
	gone.srv.Close()
	_, err = enrich(t, pg, "ipv4-addr", "192.0.2.1")
	wantClass(t, err, enrichment.ClassUnavailable, "192.0.2.1", gone.srv.URL)
}

// TestQuotaPause: a successful answer whose quota headers say nothing is
// left asks for a pause until the reset; so does a not-found answer.
func TestQuotaPause(t *testing.T) {
	reset := time.Now().Add(90 * time.Second).Unix()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("RateLimit-Remaining", "0")
		w.Header().Set("RateLimit-Reset", fmt.Sprint(reset))
		if strings.HasSuffix(r.URL.Path, "/none") {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"a":1}`)
	})
	p := f.provider(t, Config{Kinds: []string{"domain-name"}, URL: "{srv}/q/{value}", Fields: map[string]string{"a": "a"}})
	r, err := enrich(t, p, "domain-name", "x.example")
	if err != nil || r.Pause < 80*time.Second || r.Pause > 90*time.Second || len(r.Attributes) != 1 {
		t.Fatalf("got %+v, %v", r, err)
	}
	r, err = enrich(t, p, "domain-name", "none")
	if err != nil || !r.NotFound || r.Pause < 80*time.Second {
		t.Fatalf("not found: %+v, %v", r, err)
	}
}

// TestHostileValues: values with "/../", "?", "&", "=", "#", "%", spaces
// and dot segments stay one path segment or one query value, and never
// change the host.
func TestHostileValues(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"ok":true}`) })
	other := newFake(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"ok":true}`) })
	pathP := f.provider(t, Config{Kinds: []string{"url"}, URL: "{srv}/api/v3/{kind}/{value}/report?x=1", Fields: map[string]string{"ok": "ok"}})
	queryP := f.provider(t, Config{Kinds: []string{"url"}, URL: "{srv}/api/check?v={value}&k={kind}&fixed=1", Fields: map[string]string{"ok": "ok"}})
	values := []string{
		"a/../../admin", "x?y=1&z=2", "sp ace+plus", "..", ".", "#frag", "100%25", "https://" + strings.TrimPrefix(other.srv.URL, "https://") + "/steal",
		"@evil.example", "\\..\\", "ü/é", "a;b,c=d",
	}
	for _, v := range values {
		if _, err := enrich(t, pathP, "url", v); err != nil {
			t.Fatalf("path %q: %v", v, err)
		}
		req, _ := f.lastRequest()
		seg := strings.TrimSuffix(strings.TrimPrefix(req.URL.EscapedPath(), "/api/v3/url/"), "/report")
		if strings.Contains(seg, "/") || strings.Contains(req.URL.EscapedPath(), "/../") || req.URL.Query().Get("x") != "1" || len(req.URL.Query()) != 1 {
			t.Fatalf("path %q: request %s", v, req.RequestURI)
		}
		if got, err := url.PathUnescape(seg); err != nil || got != v {
			t.Fatalf("path %q: segment %q decodes to %q", v, seg, got)
		}
		if _, err := enrich(t, queryP, "url", v); err != nil {
			t.Fatalf("query %q: %v", v, err)
		}
		req, _ = f.lastRequest()
		q := req.URL.Query()
		if req.URL.Path != "/api/check" || q.Get("v") != v || q.Get("k") != "url" || q.Get("fixed") != "1" || len(q) != 3 {
			t.Fatalf("query %q: request %s", v, req.RequestURI)
		}
	}
	if n := other.calls.Load(); n != 0 {
		t.Fatalf("%d requests went to another host", n)
	}
	if n := f.calls.Load(); n != int32(2*len(values)) {
		t.Fatalf("%d requests, want %d", n, 2*len(values))
	}
	for _, bad := range []string{"", "\xff\xfe", strings.Repeat("a", 5000)} {
		_, err := enrich(t, pathP, "url", bad)
		wantClass(t, err, enrichment.ClassRejected)
	}
	_, err := enrich(t, pathP, "domain-name", "example.com")
	wantClass(t, err, enrichment.ClassRejected)
}

// TestPOST: a POST body template gets the value JSON-escaped, with JSON
// Content-Type, static headers and the auth header.
func TestPOST(t *testing.T) {
	var f *fake
	f = newFake(t, func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Query, Kind string }
		_, body := f.lastRequest() // the fake read the body
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Client") != "heimdall" ||
			r.Header.Get("Authorization") != "Bearer "+secret || json.Unmarshal(body, &in) != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, `{"result":{"query":%q,"kind":%q,"score":42}}`, in.Query, in.Kind)
	})
	p := f.provider(t, Config{Kinds: []string{"domain-name", "url"}, Method: "post", URL: "{srv}/lookup",
		Body:    `{"query": "{value}", "kind": "{kind}", "options": {"fresh": true}}`,
		Headers: map[string]string{"X-Client": "heimdall"}, AuthHeader: "Authorization", AuthValue: "Bearer " + secret,
		Fields: map[string]string{"query": "result.query", "kind": "result.kind", "score": "result.score"}})
	for _, v := range []string{"example.com", `he said "hi" \ and {value} }`, "line\nbreak"} {
		r, err := enrich(t, p, "url", v)
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		want := attrs("kind", "url", "query", cleanText(v), "score", "42")
		if !reflect.DeepEqual(r.Attributes, want) {
			t.Fatalf("%q: got %q want %q", v, r.Attributes, want)
		}
		_, body := f.lastRequest()
		if !json.Valid(body) {
			t.Fatalf("body %q is not JSON", body)
		}
	}
}

// TestNotFound: configured not-found statuses and the not-found path.
func TestNotFound(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/nf404":
			http.NotFound(w, r)
		case "/nf400":
			http.Error(w, "{}", http.StatusBadRequest)
		case "/nf204":
			w.WriteHeader(http.StatusNoContent)
		default:
			fmt.Fprint(w, r.URL.Query().Get("doc"))
		}
	})
	def := f.provider(t, Config{Kinds: []string{"ipv4-addr"}, URL: "{srv}/{value}", Fields: map[string]string{"a": "a"}})
	r, err := enrich(t, def, "ipv4-addr", "nf404")
	if err != nil || !r.NotFound {
		t.Fatalf("404: %+v, %v", r, err)
	}
	custom := f.provider(t, Config{Kinds: []string{"ipv4-addr"}, URL: "{srv}/{value}", Fields: map[string]string{"a": "a"}, NotFoundStatus: []int{400, 204}})
	for _, v := range []string{"nf400", "nf204"} {
		if r, err := enrich(t, custom, "ipv4-addr", v); err != nil || !r.NotFound {
			t.Fatalf("%s: %+v, %v", v, r, err)
		}
	}
	_, err = enrich(t, custom, "ipv4-addr", "nf404")
	wantClass(t, err, enrichment.ClassRejected)

	gn := f.provider(t, Config{Kinds: []string{"ipv4-addr"}, URL: "{srv}/gn?doc={value}", NotFoundPath: "seen",
		Fields: map[string]string{"classification": "classification"}})
	for doc, nf := range map[string]bool{
		`{"seen":false,"classification":"unknown"}`: true, `{"classification":"unknown"}`: true, `{"seen":null}`: true,
		`{"seen":true,"classification":"malicious"}`: false, `{"seen":"yes","classification":"malicious"}`: false,
		`{"seen":0}`: true, `{"seen":[]}`: true, `{"seen":{}}`: true, `{"seen":""}`: true, `{"seen":1,"classification":"malicious"}`: false,
	} {
		r, err := enrich(t, gn, "ipv4-addr", doc)
		if err != nil || r.NotFound != nf || (nf && len(r.Attributes) != 0) || (!nf && len(r.Attributes) != 1) {
			t.Errorf("%s: %+v, %v; want NotFound %v", doc, r, err, nf)
		}
	}
}

// TestSameOriginRedirect: a redirect within the origin is followed with
// the auth header.
func TestSameOriginRedirect(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new?"+r.URL.RawQuery, http.StatusMovedPermanently)
			return
		}
		if r.Header.Get("Key") != secret {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"a":"moved"}`)
	})
	p := f.provider(t, Config{Kinds: []string{"ipv4-addr"}, URL: "{srv}/old?ip={value}", AuthHeader: "Key", AuthValue: secret, Fields: map[string]string{"a": "a"}})
	r, err := enrich(t, p, "ipv4-addr", "192.0.2.1")
	if err != nil || !reflect.DeepEqual(r.Attributes, attrs("a", "moved")) {
		t.Fatalf("got %+v, %v", r, err)
	}
}

type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// TestUsesConfiguredClient: every request goes through Config.Client;
// concurrent calls are safe.
func TestUsesConfiguredClient(t *testing.T) {
	f := abuseIPDB(t)
	ct := &countingTransport{next: f.client(t).Transport}
	cfg := abuseConfig()
	cfg.Client = &http.Client{Transport: ct}
	p := f.provider(t, cfg)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if r, err := enrich(t, p, "ipv4-addr", fmt.Sprintf("198.51.100.%d", i)); err != nil || len(r.Attributes) == 0 {
				t.Errorf("%d: %+v, %v", i, r, err)
			}
		})
	}
	wg.Wait()
	if ct.n.Load() != 20 || f.calls.Load() != 20 {
		t.Fatalf("transport %d, server %d", ct.n.Load(), f.calls.Load())
	}
}

// TestConfig: Validate reports every problem at once; defaults apply.
func TestConfig(t *testing.T) {
	ca := enrichtest.NewCA(t)
	hc := ca.Client()
	t.Cleanup(hc.CloseIdleConnections)
	ok := func() Config {
		return Config{Kinds: []string{"ipv4-addr"}, URL: "https://api.example/v2/check?ip={value}", Fields: map[string]string{"score": "data.score"}, Client: hc}
	}
	p, err := New(ok())
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "http" || p.method != http.MethodGet || !reflect.DeepEqual(p.notFound, []int{404}) || p.maxBody != DefaultMaxBody {
		t.Fatalf("defaults %+v", p)
	}
	weak := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want []string
	}{
		{"no kinds", func(c *Config) { c.Kinds = nil }, []string{"no kinds"}},
		{"bad kind", func(c *Config) { c.Kinds = []string{"IPv4 Addr"} }, []string{"not an observable kind"}},
		{"plain http", func(c *Config) { c.URL = "http://api.example/?ip={value}" }, []string{"https"}},
		{"value in host", func(c *Config) { c.URL = "https://{value}.api.example/" }, []string{"host"}},
		{"kind in host", func(c *Config) { c.URL = "https://api.{kind}/x/{value}" }, []string{"host"}},
		{"credentials", func(c *Config) { c.URL = "https://user:pw@api.example/{value}" }, []string{"credentials"}},
		{"fragment", func(c *Config) { c.URL = "https://api.example/{value}#x" }, []string{"fragment"}},
		{"unknown placeholder", func(c *Config) { c.URL = "https://api.example/{valeu}" }, []string{"placeholders"}},
		{"no value placeholder", func(c *Config) { c.URL = "https://api.example/fixed" }, []string{"{value}"}},
		{"method", func(c *Config) { c.Method = "DELETE" }, []string{"GET or POST"}},
		{"body with GET", func(c *Config) { c.Body = `{"q":"{value}"}` }, []string{"needs method POST"}},
		{"body not json", func(c *Config) { c.Method, c.Body = "POST", `{"q":{value}` }, []string{"not JSON"}},
		{"bad header", func(c *Config) { c.Headers = map[string]string{"Bad Header": "x"} }, []string{"not valid"}},
		{"header value", func(c *Config) { c.Headers = map[string]string{"X-A": "a\r\nb"} }, []string{"invalid value"}},
		{"host header", func(c *Config) { c.Headers = map[string]string{"host": "evil"} }, []string{"cannot be set"}},
		{"credential header", func(c *Config) { c.Headers = map[string]string{"Authorization": "Bearer x"} }, []string{"credentials"}},
		{"auth header without value", func(c *Config) { c.AuthHeader = "Key" }, []string{"secret for it is empty"}},
		{"no fields", func(c *Config) { c.Fields = nil }, []string{"no fields"}},
		{"bad field name", func(c *Config) { c.Fields = map[string]string{"Score!": "a"} }, []string{"field name"}},
		{"bad field path", func(c *Config) { c.Fields = map[string]string{"a": "a..b"} }, []string{"field a"}},
		{"verdict clash", func(c *Config) {
			c.Fields = map[string]string{"verdict": "a"}
			c.Verdict = &VerdictRule{Path: "a", Malicious: 1}
		}, []string{"clashes"}},
		{"thresholds", func(c *Config) { c.Verdict = &VerdictRule{Path: "a", Malicious: 10, Suspicious: 20} }, []string{"thresholds"}},
		{"verdict path", func(c *Config) { c.Verdict = &VerdictRule{Path: "", Malicious: 10} }, []string{"verdict path"}},
		{"not found status", func(c *Config) { c.NotFoundStatus = []int{429, 500, 200} }, []string{"429", "500", "200"}},
		{"not found path", func(c *Config) { c.NotFoundPath = "a[" }, []string{"not-found path"}},
		{"no client", func(c *Config) { c.Client = nil }, []string{"no HTTP client"}},
		{"weak client", func(c *Config) { c.Client = weak }, []string{"TLS 1.3"}},
		{"default client", func(c *Config) { c.Client = &http.Client{} }, []string{"default transport"}},
		{"max body", func(c *Config) { c.MaxBody = -1 }, []string{"max body"}},
		{"everything", func(c *Config) {
			c.Kinds, c.URL, c.Fields, c.Client, c.MaxBody = nil, "http://x/", nil, nil, -1
		}, []string{"no kinds", "https", "{value}", "no fields", "no HTTP client", "max body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok()
			tc.mod(&cfg)
			_, err := New(cfg)
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
