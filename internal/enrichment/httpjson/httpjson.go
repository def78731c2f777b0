package httpjson

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

// DefaultMaxBody bounds an answer's body when Config.MaxBody is zero.
const DefaultMaxBody = 1 << 20

// AttrVerdict is the attribute a VerdictRule sets.
const AttrVerdict = "verdict"

// Verdicts.
const (
	VerdictMalicious  = "malicious"
	VerdictSuspicious = "suspicious"
	VerdictClean      = "clean"
)

const (
	maxDepth      = 64   // JSON nesting accepted
	maxAttributes = 64   // attributes per result (the worker keeps no more)
	maxFields     = 64   // configured fields
	maxValueLen   = 4096 // bytes of a looked-up value
	maxRedirects  = 5
)

var (
	attributeName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	kindName      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
)

// Config configures a Provider.
type Config struct {
	// Name is the configured provider name (default "http").
	Name string
	// Kinds are the observable kinds the provider accepts. Required.
	Kinds []string
	// Method is GET (the default) or POST.
	Method string
	// URL is an https URL template. {value} and {kind} may appear in the
	// path, where they are path-escaped (url.PathEscape: a value stays one
	// path segment), and in the query, where they are query-escaped
	// (url.QueryEscape), never in the scheme or host:
	//
	//	https://api.abuseipdb.com/api/v2/check?ipAddress={value}&maxAgeInDays=90
	//	https://www.virustotal.com/api/v3/domains/{value}
	URL string
	// Body is an optional POST body template; {value} and {kind} are
	// replaced JSON-escaped (without quotes), so write "{value}" in quotes:
	// {"ip": "{value}"}. Sent as application/json unless Headers set a
	// Content-Type.
	Body string
	// Headers are static, non-secret request headers (Accept defaults to
	// application/json). Credentials go in AuthHeader and AuthValue.
	Headers map[string]string
	// AuthHeader names the header that carries AuthValue, for example Key,
	// x-apikey or Authorization.
	AuthHeader string
	// AuthValue is the secret (with any prefix such as "Bearer "), read
	// from the environment by the caller. It is never logged, never put in
	// an error, and never stored: an answer value containing it is dropped.
	AuthValue string
	// Fields maps attribute names to JSON paths into the answer (see the
	// package documentation for the path syntax).
	Fields map[string]string
	// NotFoundStatus are the HTTP statuses that mean the provider knows
	// nothing about the value (default [404]); 204 or 4xx other than 429.
	NotFoundStatus []int
	// NotFoundPath, when set, is a path that a found answer has: a 2xx
	// answer where it is missing, null, false, 0, "" or empty is NotFound
	// (GreyNoise-like "seen", VirusTotal-like "data").
	NotFoundPath string
	// Verdict optionally maps a numeric score to the attribute verdict.
	Verdict *VerdictRule
	// Client makes every request. The caller builds it TLS 1.3 only; a
	// *http.Transport that allows older versions or skips verification is
	// refused. Required.
	Client *http.Client
	// MaxBody bounds an answer's body in bytes (default 1 MiB).
	MaxBody int64
}

// VerdictRule maps the number at Path (the largest, if the path selects
// several) to a verdict: malicious at or above Malicious, suspicious at or
// above Suspicious, clean below. Suspicious 0 means no suspicious band. An
// answer without a number there gets no verdict.
type VerdictRule struct {
	Path       string
	Malicious  float64
	Suspicious float64
}

func (c *Config) setDefaults() {
	if c.Name == "" {
		c.Name = "http"
	}
	if c.Method == "" {
		c.Method = http.MethodGet
	}
	c.Method = strings.ToUpper(c.Method)
	if len(c.NotFoundStatus) == 0 {
		c.NotFoundStatus = []int{http.StatusNotFound}
	}
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
}

// hopHeaders may not be set as static or auth headers.
var hopHeaders = []string{"Host", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "Te", "Trailer",
	"Proxy-Connection", "Proxy-Authorization", "Proxy-Authenticate"}

// credentialHeaders may not be static headers: credentials go in AuthValue.
var credentialHeaders = []string{"Authorization", "Cookie"}

// Validate reports every problem of c. Errors never quote AuthValue.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("http: "+format, args...)) }
	if len(c.Kinds) == 0 {
		bad("no kinds configured (an http provider must name the kinds it accepts)")
	}
	for _, k := range c.Kinds {
		if !kindName.MatchString(k) {
			bad("kind %q is not an observable kind", k)
		}
	}
	switch strings.ToUpper(c.Method) {
	case "", http.MethodGet, http.MethodPost:
	default:
		bad("method must be GET or POST")
	}
	if _, err := parseTemplate(c.URL); err != nil {
		errs = append(errs, err)
	}
	if !strings.Contains(c.URL, "{value}") && !strings.Contains(c.Body, "{value}") {
		bad("neither the URL nor the body holds the {value} placeholder")
	}
	if c.Body != "" {
		if !strings.EqualFold(c.Method, http.MethodPost) {
			bad("a body needs method POST")
		}
		if err := checkPlaceholders(c.Body, false); err != nil {
			bad("body: %v", err)
		}
		ct := headerValue(c.Headers, "Content-Type")
		if mt, _, _ := mime.ParseMediaType(ct); ct == "" || mt == "application/json" || strings.HasSuffix(mt, "+json") {
			if !json.Valid([]byte(expandBody(c.Body, "x", "x"))) {
				bad("the body template is not JSON once {value} and {kind} are replaced")
			}
		}
	}
	for name, value := range c.Headers {
		switch {
		case !httpguts.ValidHeaderFieldName(name):
			bad("header name %q is not valid", name)
		case !httpguts.ValidHeaderFieldValue(value):
			bad("header %s has an invalid value", name)
		case containsFold(hopHeaders, name):
			bad("header %s cannot be set", name)
		case containsFold(credentialHeaders, name):
			bad("header %s carries credentials: use auth_header and the secret from the environment", name)
		case c.AuthHeader != "" && strings.EqualFold(name, c.AuthHeader):
			bad("header %s is also the auth header", name)
		}
	}
	switch {
	case c.AuthHeader == "" && c.AuthValue != "":
		bad("an auth value is set but no auth header names where it goes")
	case c.AuthHeader != "" && c.AuthValue == "":
		bad("auth header %s is set but the secret for it is empty", c.AuthHeader)
	case c.AuthHeader != "":
		if !httpguts.ValidHeaderFieldName(c.AuthHeader) || containsFold(hopHeaders, c.AuthHeader) {
			bad("auth header name %q is not valid", c.AuthHeader)
		}
		if !httpguts.ValidHeaderFieldValue(c.AuthValue) || strings.TrimSpace(c.AuthValue) != c.AuthValue {
			bad("the auth value is not a valid header value (control characters or surrounding spaces)")
		}
	}
	if len(c.Fields) == 0 && c.Verdict == nil {
		bad("no fields and no verdict configured: the provider would find nothing")
	}
	if len(c.Fields) > maxFields {
		bad("at most %d fields", maxFields)
	}
	for _, name := range sortedKeys(c.Fields) {
		if !attributeName.MatchString(name) {
			bad("field name %q must be 1 to 64 lower-case letters, digits, '_', '.' or '-'", name)
		}
		if _, err := compilePath(c.Fields[name]); err != nil {
			bad("field %s: %v", name, err)
		}
		if name == AttrVerdict && c.Verdict != nil {
			bad("field verdict clashes with the verdict rule's attribute")
		}
	}
	for _, s := range c.NotFoundStatus {
		if s != http.StatusNoContent && (s < 400 || s > 499 || s == http.StatusTooManyRequests) {
			bad("not-found status %d must be 204 or a 4xx other than 429", s)
		}
	}
	if c.NotFoundPath != "" {
		if _, err := compilePath(c.NotFoundPath); err != nil {
			bad("not-found path: %v", err)
		}
	}
	if v := c.Verdict; v != nil {
		if _, err := compilePath(v.Path); err != nil {
			bad("verdict path: %v", err)
		}
		finite := !math.IsNaN(v.Malicious) && !math.IsInf(v.Malicious, 0) && !math.IsNaN(v.Suspicious) && !math.IsInf(v.Suspicious, 0)
		if !finite || v.Malicious <= 0 || v.Suspicious < 0 || v.Suspicious >= v.Malicious {
			bad("verdict thresholds must satisfy 0 <= suspicious < malicious, malicious > 0 (suspicious 0: no suspicious band)")
		}
	}
	if err := checkClient(c.Client); err != nil {
		bad("%v", err)
	}
	if c.MaxBody < 0 {
		bad("max body must not be negative")
	}
	return errors.Join(errs...)
}

// checkClient refuses a missing client and a transport that visibly allows
// less than TLS 1.3 or skips verification.
func checkClient(c *http.Client) error {
	if c == nil {
		return errors.New("no HTTP client (build one that speaks TLS 1.3 only)")
	}
	if c.Transport == nil || c.Transport == http.DefaultTransport {
		return errors.New("the HTTP client uses the default transport, which allows TLS below 1.3")
	}
	if t, ok := c.Transport.(*http.Transport); ok {
		switch tc := t.TLSClientConfig; {
		case tc == nil || tc.MinVersion < tls.VersionTLS13:
			return errors.New("the HTTP client's transport must require TLS 1.3 (MinVersion)")
		case tc.InsecureSkipVerify:
			return errors.New("the HTTP client's transport must verify certificates")
		}
	}
	return nil
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

type field struct {
	name string
	path path
}

// Provider calls one JSON API. It is safe for concurrent use.
type Provider struct {
	name       string
	kinds      []string
	method     string
	tmpl       template
	body       string
	headers    http.Header
	secrets    []string // AuthValue and its last word: never stored
	fields     []field
	notFound   []int
	notFoundAt *path
	verdict    *VerdictRule
	verdictAt  path
	client     *http.Client
	maxBody    int64
	now        func() time.Time
}

var _ enrichment.Provider = (*Provider)(nil)

// New validates cfg and returns the provider. It does not contact the
// service.
func New(cfg Config) (*Provider, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tmpl, _ := parseTemplate(cfg.URL)
	p := &Provider{
		name:     cfg.Name,
		kinds:    slices.Clone(cfg.Kinds),
		method:   cfg.Method,
		tmpl:     tmpl,
		body:     cfg.Body,
		headers:  http.Header{},
		notFound: slices.Clone(cfg.NotFoundStatus),
		client:   enrichment.Redirects(cfg.Client, maxRedirects, true),
		maxBody:  cfg.MaxBody,
		now:      time.Now,
	}
	p.headers.Set("Accept", "application/json")
	if p.method == http.MethodPost {
		p.headers.Set("Content-Type", "application/json")
	}
	for k, v := range cfg.Headers {
		p.headers.Set(k, v)
	}
	if cfg.AuthHeader != "" {
		p.headers.Set(cfg.AuthHeader, cfg.AuthValue)
		p.secrets = append(p.secrets, cfg.AuthValue)
		if i := strings.LastIndexByte(cfg.AuthValue, ' '); i >= 0 && len(cfg.AuthValue)-i-1 >= 8 {
			p.secrets = append(p.secrets, cfg.AuthValue[i+1:])
		}
	}
	for _, name := range sortedKeys(cfg.Fields) {
		pp, _ := compilePath(cfg.Fields[name])
		p.fields = append(p.fields, field{name: name, path: pp})
	}
	if cfg.NotFoundPath != "" {
		pp, _ := compilePath(cfg.NotFoundPath)
		p.notFoundAt = &pp
	}
	if cfg.Verdict != nil {
		v := *cfg.Verdict
		p.verdict = &v
		p.verdictAt, _ = compilePath(v.Path)
	}
	return p, nil
}

// Name implements enrichment.Provider.
func (p *Provider) Name() string { return p.name }

// Type implements enrichment.Provider: "http".
func (p *Provider) Type() string { return "http" }

// Kinds implements enrichment.Provider.
func (p *Provider) Kinds() []string { return slices.Clone(p.kinds) }

// Enrich implements enrichment.Provider.
func (p *Provider) Enrich(ctx context.Context, req enrichment.Request) (enrichment.Result, error) {
	if !slices.Contains(p.kinds, req.Kind) {
		return enrichment.Result{}, enrichment.Errorf(enrichment.ClassRejected, "the provider does not accept this kind")
	}
	if req.Value == "" || len(req.Value) > maxValueLen || !utf8.ValidString(req.Value) {
		return enrichment.Result{}, enrichment.Errorf(enrichment.ClassRejected, "the value is empty, too long or not UTF-8")
	}
	u, err := p.tmpl.expand(req.Kind, req.Value)
	if err != nil {
		return enrichment.Result{}, err
	}
	var body io.Reader
	if p.method == http.MethodPost {
		body = strings.NewReader(expandBody(p.body, req.Kind, req.Value))
	}
	hreq, err := http.NewRequestWithContext(ctx, p.method, u.String(), body)
	if err != nil {
		return enrichment.Result{}, enrichment.Errorf(enrichment.ClassRejected, "the request could not be built")
	}
	for k, v := range p.headers {
		hreq.Header[k] = slices.Clone(v)
	}
	resp, err := p.client.Do(hreq)
	if err != nil {
		return enrichment.Result{}, enrichment.TransportError(ctx, err)
	}
	defer enrichment.CloseBody(resp)
	if ctx.Err() != nil { // an answer that raced the deadline is not used
		return enrichment.Result{}, enrichment.TransportError(ctx, ctx.Err())
	}
	now := p.now()
	if slices.Contains(p.notFound, resp.StatusCode) {
		return enrichment.Result{NotFound: true, Pause: enrichment.QuotaPause(resp.Header, now)}, nil
	}
	if resp.StatusCode == http.StatusNotFound {
		return enrichment.Result{}, enrichment.Errorf(enrichment.ClassRejected, "the provider answered HTTP 404")
	}
	if e := enrichment.HTTPStatusError(resp, now); e != nil {
		return enrichment.Result{}, e
	}
	if !enrichment.JSONContentType(resp.Header.Get("Content-Type")) {
		return enrichment.Result{}, enrichment.Errorf(enrichment.ClassBadResponse, "the answer is not JSON")
	}
	raw, err := enrichment.ReadBody(ctx, resp, p.maxBody)
	if err != nil {
		return enrichment.Result{}, err
	}
	if ctx.Err() != nil {
		return enrichment.Result{}, enrichment.TransportError(ctx, ctx.Err())
	}
	doc, err := decode(raw)
	if err != nil {
		return enrichment.Result{}, err
	}
	pause := enrichment.QuotaPause(resp.Header, now)
	if p.notFoundAt != nil {
		if vs := p.notFoundAt.eval(doc, 1); len(vs) == 0 || !truthy(vs[0]) {
			return enrichment.Result{NotFound: true, Pause: pause}, nil
		}
	}
	return enrichment.Result{Attributes: p.attributes(doc), Pause: pause}, nil
}

// attributes maps doc through the fields and the verdict rule.
func (p *Provider) attributes(doc any) []enrichment.Attribute {
	var out []enrichment.Attribute
	seen := map[enrichment.Attribute]bool{}
	add := func(name, value string) {
		a := enrichment.Attribute{Name: name, Value: value}
		if len(out) >= maxAttributes || seen[a] || p.secret(value) {
			return
		}
		seen[a] = true
		out = append(out, a)
	}
	if p.verdict != nil {
		best, found := math.Inf(-1), false
		for _, v := range p.verdictAt.eval(doc, MaxValuesPerField) {
			vals := []any{v}
			if arr, ok := v.([]any); ok {
				vals = arr
			}
			for _, x := range vals {
				if f, ok := numeric(x); ok {
					best, found = max(best, f), true
				}
			}
		}
		if found {
			verdict := VerdictClean
			switch {
			case best >= p.verdict.Malicious:
				verdict = VerdictMalicious
			case p.verdict.Suspicious > 0 && best >= p.verdict.Suspicious:
				verdict = VerdictSuspicious
			}
			add(AttrVerdict, verdict)
		}
	}
	for _, f := range p.fields {
		for _, v := range f.path.values(doc, MaxValuesPerField) {
			add(f.name, v)
		}
	}
	return out
}

// secret reports whether s holds the auth secret (an API that echoes its
// key must not get it stored).
func (p *Provider) secret(s string) bool {
	for _, x := range p.secrets {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// decode parses one JSON value (numbers as json.Number) nested at most
// maxDepth deep; anything else is a bad response.
func decode(b []byte) (any, error) {
	var doc any
	if err := enrichment.DecodeJSON(b, maxDepth, &doc, true, "valid JSON"); err != nil {
		return nil, err
	}
	return doc, nil
}

// template is a parsed URL template: the fixed origin, and the path and
// query templates.
type template struct {
	origin   string // https://host[:port]
	host     string // as url.URL.Host
	path     string
	query    string
	hasQuery bool
}

// parseTemplate checks a URL template: https, a host without placeholders
// or credentials, no fragment, only {value} and {kind} placeholders.
func parseTemplate(s string) (template, error) {
	if s == "" {
		return template{}, errors.New("http: no URL configured")
	}
	const scheme = "https://"
	if len(s) < len(scheme) || !strings.EqualFold(s[:len(scheme)], scheme) {
		return template{}, errors.New("http: the URL must be https")
	}
	rest := s[len(scheme):]
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if strings.ContainsAny(authority, "{}") {
		return template{}, errors.New("http: placeholders may appear in the URL's path and query only, not in its host")
	}
	if strings.Contains(s, "#") {
		return template{}, errors.New("http: the URL must not have a fragment")
	}
	if err := checkPlaceholders(tail, true); err != nil {
		return template{}, fmt.Errorf("http: URL: %w", err)
	}
	u, err := url.Parse(scheme + authority + expandRaw(tail, "x", "x"))
	switch {
	case err != nil:
		return template{}, errors.New("http: the URL does not parse")
	case u.User != nil:
		return template{}, errors.New("http: the URL must not hold credentials")
	case u.Host == "" || u.Hostname() == "":
		return template{}, errors.New("http: the URL has no host")
	}
	t := template{origin: scheme + u.Host, host: u.Host}
	t.path, t.query, t.hasQuery = strings.Cut(tail, "?")
	if t.path == "" {
		t.path = "/"
	}
	return t, nil
}

var placeholder = regexp.MustCompile(`\{[A-Za-z0-9_.-]+\}`)

// checkPlaceholders refuses placeholders other than {value} and {kind};
// in a URL (braceFree) it refuses any other brace as well.
func checkPlaceholders(s string, braceFree bool) error {
	for _, m := range placeholder.FindAllString(s, -1) {
		if m != "{value}" && m != "{kind}" {
			return errors.New("only the placeholders {value} and {kind} are known")
		}
	}
	if braceFree && strings.ContainsAny(expandRaw(s, "", ""), "{}") {
		return errors.New("a brace that is not part of {value} or {kind}")
	}
	return nil
}

func expandRaw(s, kind, value string) string {
	return strings.NewReplacer("{value}", value, "{kind}", kind).Replace(s)
}

// expand builds the request URL for kind and value; the result keeps the
// template's origin whatever the value holds.
func (t template) expand(kind, value string) (*url.URL, error) {
	s := t.origin + expandRaw(t.path, pathEscape(kind), pathEscape(value))
	if t.hasQuery {
		s += "?" + expandRaw(t.query, url.QueryEscape(kind), url.QueryEscape(value))
	}
	u, err := url.Parse(s)
	if err != nil || u.Host != t.host || u.Scheme != "https" || u.User != nil || u.Fragment != "" {
		return nil, enrichment.Errorf(enrichment.ClassRejected, "the value does not fit the URL template")
	}
	return u, nil
}

// pathEscape escapes s as one path segment; "." and ".." are escaped too,
// so a value never climbs the path.
func pathEscape(s string) string {
	switch s {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(s)
}

// expandBody fills the body template, JSON-escaping the values.
func expandBody(s, kind, value string) string {
	return expandRaw(s, jsonEscape(kind), jsonEscape(value))
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
