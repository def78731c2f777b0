package openaiembed

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"

	"github.com/heimdallhub/heimdall/internal/enrichment"
)

// AttrModel is the attribute naming the model of the vector.
const AttrModel = "embedding_model"

// Defaults and bounds.
const (
	DefaultMaxBody = 1 << 20
	// MaxDimensions is the longest vector the enrichment worker keeps.
	MaxDimensions = 8192
	// MaxInput bounds the bytes of a value sent for embedding.
	MaxInput = 8192
)

const (
	maxDepth     = 16 // JSON nesting accepted
	maxModel     = 256
	maxRedirects = 5
	maxWait      = time.Hour
)

var kindName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// Config configures a Provider.
type Config struct {
	// Name is the configured provider name (default "embedding").
	Name string
	// Kinds are the accepted kinds (default domain-name and url).
	Kinds []string
	// BaseURL is the API's base, an https URL such as
	// https://api.openai.com/v1 or https://llm.internal/v1; requests go to
	// POST {BaseURL}/embeddings.
	BaseURL string
	// Model names the embedding model. Required.
	Model string
	// APIKey is sent as "Authorization: Bearer <key>" when set (local
	// servers may need none). The caller reads it from the environment; it
	// is never logged or put in an error.
	APIKey string
	// Dimensions is the length every vector must have, 1 to 8192. Required.
	Dimensions int
	// SendDimensions asks the server for Dimensions (the "dimensions"
	// request field, for models that can shorten their vectors).
	SendDimensions bool
	// Client makes every request. The caller builds it TLS 1.3 only; a
	// *http.Transport that allows older versions or skips verification is
	// refused. Required.
	Client *http.Client
	// MaxBody bounds an answer's body in bytes (default 1 MiB).
	MaxBody int64
}

func (c *Config) setDefaults() {
	if c.Name == "" {
		c.Name = "embedding"
	}
	if len(c.Kinds) == 0 {
		c.Kinds = []string{"domain-name", "url"}
	}
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
}

// Validate reports every problem of c. Errors never quote the API key.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("embedding: "+format, args...)) }
	for _, k := range c.Kinds {
		if !kindName.MatchString(k) {
			bad("kind %q is not an observable kind", k)
		}
	}
	if c.BaseURL == "" {
		bad("no base URL configured")
	} else if _, err := parseBase(c.BaseURL); err != nil {
		errs = append(errs, err)
	}
	switch {
	case strings.TrimSpace(c.Model) == "":
		bad("no model configured")
	case len(c.Model) > maxModel || !utf8.ValidString(c.Model) || strings.IndexFunc(c.Model, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		bad("the model name must be at most %d bytes of text without control characters", maxModel)
	}
	if c.Dimensions < 1 || c.Dimensions > MaxDimensions {
		bad("dimensions must be from 1 to %d (the length of the model's vectors)", MaxDimensions)
	}
	if c.APIKey != "" && (!httpguts.ValidHeaderFieldValue(c.APIKey) || strings.TrimSpace(c.APIKey) != c.APIKey || strings.ContainsAny(c.APIKey, " \t")) {
		bad("the API key is not a valid bearer token (spaces or control characters)")
	}
	if err := checkClient(c.Client); err != nil {
		bad("%v", err)
	}
	if c.MaxBody < 0 {
		bad("max body must not be negative")
	}
	return errors.Join(errs...)
}

func parseBase(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, errors.New("embedding: the base URL does not parse")
	case u.Scheme != "https":
		return nil, errors.New("embedding: the base URL must be https")
	case u.Host == "" || u.Hostname() == "":
		return nil, errors.New("embedding: the base URL has no host")
	case u.User != nil:
		return nil, errors.New("embedding: the base URL must not hold credentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, errors.New("embedding: the base URL must not have a query or fragment")
	}
	return u, nil
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

// Provider embeds values through one OpenAI-compatible endpoint. It is safe
// for concurrent use.
type Provider struct {
	name     string
	kinds    []string
	endpoint string
	model    string
	auth     string
	dims     int
	sendDims bool
	client   *http.Client
	maxBody  int64
	now      func() time.Time
}

var _ enrichment.Provider = (*Provider)(nil)

// New validates cfg and returns the provider. It does not contact the
// server.
func New(cfg Config) (*Provider, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, _ := parseBase(cfg.BaseURL)
	base.Path = strings.TrimRight(base.Path, "/") + "/embeddings"
	base.RawPath = ""
	p := &Provider{
		name:     cfg.Name,
		kinds:    slices.Clone(cfg.Kinds),
		endpoint: base.String(),
		model:    cfg.Model,
		dims:     cfg.Dimensions,
		sendDims: cfg.SendDimensions,
		client:   enrichment.Redirects(cfg.Client, maxRedirects, true),
		maxBody:  cfg.MaxBody,
		now:      time.Now,
	}
	if cfg.APIKey != "" {
		p.auth = "Bearer " + cfg.APIKey
	}
	return p, nil
}

// Name implements enrichment.Provider.
func (p *Provider) Name() string { return p.name }

// Type implements enrichment.Provider: "embedding".
func (p *Provider) Type() string { return "embedding" }

// Kinds implements enrichment.Provider.
func (p *Provider) Kinds() []string { return slices.Clone(p.kinds) }

// Model is the configured model name.
func (p *Provider) Model() string { return p.model }

// Dimensions is the length of every vector the provider returns.
func (p *Provider) Dimensions() int { return p.dims }

type request struct {
	Model          string `json:"model"`
	Input          string `json:"input"`
	EncodingFormat string `json:"encoding_format"`
	Dimensions     int    `json:"dimensions,omitempty"`
}

type response struct {
	Data []struct {
		Embedding []json.RawMessage `json:"embedding"`
		Index     *int              `json:"index"`
	} `json:"data"`
}

// Enrich implements enrichment.Provider: the value's embedding.
func (p *Provider) Enrich(ctx context.Context, req enrichment.Request) (enrichment.Result, error) {
	if !slices.Contains(p.kinds, req.Kind) {
		return enrichment.Result{}, enrichment.Errorf(enrichment.ClassRejected, "the provider does not accept this kind")
	}
	if strings.TrimSpace(req.Value) == "" || len(req.Value) > MaxInput || !utf8.ValidString(req.Value) {
		return enrichment.Result{}, enrichment.Errorf(enrichment.ClassRejected, "the value is empty, too long to embed or not UTF-8")
	}
	body := request{Model: p.model, Input: req.Value, EncodingFormat: "float"}
	if p.sendDims {
		body.Dimensions = p.dims
	}
	b, err := json.Marshal(body)
	if err != nil {
		return enrichment.Result{}, enrichment.Errorf(enrichment.ClassRejected, "the request could not be built")
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, bytes.NewReader(b))
	if err != nil {
		return enrichment.Result{}, enrichment.Errorf(enrichment.ClassRejected, "the request could not be built")
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	if p.auth != "" {
		hreq.Header.Set("Authorization", p.auth)
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
	if resp.StatusCode == http.StatusNotFound {
		// Every text has an embedding: a 404 is a wrong URL or an unknown
		// model, not a negative answer about the value.
		return enrichment.Result{}, enrichment.Errorf(enrichment.ClassRejected, "the provider answered HTTP 404 (wrong base URL or unknown model)")
	}
	if e := enrichment.HTTPStatusError(resp, now); e != nil {
		if e.Class == enrichment.ClassRateLimited {
			e.RetryAfter = max(e.RetryAfter, openAIPause(resp.Header))
		}
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
	vec, err := p.vector(raw)
	if err != nil {
		return enrichment.Result{}, err
	}
	return enrichment.Result{
		Vector:     vec,
		Version:    p.model,
		Attributes: []enrichment.Attribute{{Name: AttrModel, Value: p.model}},
		Pause:      max(enrichment.QuotaPause(resp.Header, now), openAIPause(resp.Header)),
	}, nil
}

// vector decodes the answer's single embedding and checks it: Dimensions
// finite float32 numbers, not all zero.
func (p *Provider) vector(raw []byte) ([]float32, error) {
	var r response
	if err := enrichment.DecodeJSON(raw, maxDepth, &r, false, "an embeddings response"); err != nil {
		return nil, err
	}
	if len(r.Data) != 1 || (r.Data[0].Index != nil && *r.Data[0].Index != 0) {
		return nil, enrichment.Errorf(enrichment.ClassBadResponse, "the answer does not hold exactly one embedding")
	}
	in := r.Data[0].Embedding
	if len(in) != p.dims {
		return nil, enrichment.Errorf(enrichment.ClassBadResponse, "the embedding does not have the configured number of dimensions")
	}
	out := make([]float32, len(in))
	zero := true
	for i, e := range in {
		s := string(bytes.TrimSpace(e))
		if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
			return nil, enrichment.Errorf(enrichment.ClassBadResponse, "the embedding holds something that is not a number")
		}
		f, err := strconv.ParseFloat(s, 64)
		x := float32(f)
		if err != nil || math.IsNaN(f) || math.IsInf(float64(x), 0) {
			return nil, enrichment.Errorf(enrichment.ClassBadResponse, "the embedding holds a number that is not a finite float32")
		}
		out[i] = x
		zero = zero && x == 0
	}
	if zero {
		return nil, enrichment.Errorf(enrichment.ClassBadResponse, "the embedding is all zeros")
	}
	return out, nil
}

// openAIPause reads OpenAI's quota headers: when x-ratelimit-remaining-
// requests or -tokens is 0, the matching x-ratelimit-reset-… duration
// ("1s", "6m0s", "20ms"); 1s if that does not parse; at most an hour.
func openAIPause(h http.Header) time.Duration {
	var wait time.Duration
	for _, kind := range []string{"requests", "tokens"} {
		if strings.TrimSpace(h.Get("X-Ratelimit-Remaining-"+kind)) != "0" {
			continue
		}
		d, err := time.ParseDuration(strings.TrimSpace(h.Get("X-Ratelimit-Reset-" + kind)))
		if err != nil || d <= 0 {
			d = time.Second
		}
		wait = max(wait, min(d, maxWait))
	}
	return wait
}
