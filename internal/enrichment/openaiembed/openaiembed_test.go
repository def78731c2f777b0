package openaiembed

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
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

const apiKey = "sk-test-0123456789abcdefSECRET"

// embedOf is the fake model: a deterministic vector of n values per input.
func embedOf(input string, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		h := fnv.New32a()
		fmt.Fprintf(h, "%d|%s", i, input)
		out[i] = float32(int32(h.Sum32()%2001)-1000) / 1000
	}
	out[0] = 0.5 // never all zero
	return out
}

type received struct {
	Model          string `json:"model"`
	Input          string `json:"input"`
	EncodingFormat string `json:"encoding_format"`
	Dimensions     *int   `json:"dimensions"`
}

type fake struct {
	srv   *httptest.Server
	ca    *enrichtest.CA
	calls atomic.Int32
	mu    sync.Mutex
	req   received
	raw   map[string]any
	auth  string
}

// newFake serves an OpenAI-compatible /v1/embeddings. reply, when set,
// answers instead of the fake model.
func newFake(t *testing.T, dims int, reply http.HandlerFunc) *fake {
	t.Helper()
	f := &fake{ca: enrichtest.NewCA(t)}
	f.srv = f.ca.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		var in received
		var raw map[string]any
		err := json.NewDecoder(r.Body).Decode(&raw)
		if err == nil {
			b, _ := json.Marshal(raw)
			err = json.Unmarshal(b, &in)
		}
		f.mu.Lock()
		f.req, f.raw, f.auth = in, raw, r.Header.Get("Authorization")
		f.mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" || err != nil || r.Header.Get("Content-Type") != "application/json" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"message":"bad request","type":"invalid_request_error"}}`)
			return
		}
		if reply != nil {
			reply(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+apiKey {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"message":"Incorrect API key provided: sk-test-***","type":"invalid_request_error","code":"invalid_api_key"}}`)
			return
		}
		n := dims
		if in.Dimensions != nil {
			n = *in.Dimensions
		}
		vec, _ := json.Marshal(embedOf(in.Input, n))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":%s}],"model":"%s-2024","usage":{"prompt_tokens":3,"total_tokens":3}}`, vec, in.Model)
	}))
	return f
}

func (f *fake) last() (received, map[string]any, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.req, f.raw, f.auth
}

func (f *fake) client(t *testing.T) *http.Client {
	c := f.ca.Client()
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func (f *fake) config(t *testing.T, dims int) Config {
	return Config{BaseURL: f.srv.URL + "/v1/", Model: "text-embedding-3-small", APIKey: apiKey, Dimensions: dims, Client: f.client(t)}
}

func (f *fake) provider(t *testing.T, cfg Config) *Provider {
	t.Helper()
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

func wantClass(t *testing.T, err error, class enrichment.Class, forbidden ...string) *enrichment.Error {
	t.Helper()
	var e *enrichment.Error
	if !errors.As(err, &e) || e.Class != class {
		t.Fatalf("err = %v (%T), want class %s", err, err, class)
	}
	texts := fmt.Sprintf("%v|%+v|%s", err, err, enrichment.Reason(err))
	for u := error(e); u != nil; u = errors.Unwrap(u) {
		texts += "|" + u.Error()
	}
	for _, s := range append(forbidden, apiKey) {
		if s != "" && strings.Contains(texts, s) {
			t.Fatalf("error texts %q contain %q", texts, s)
		}
	}
	return e
}

// TestEmbed: the request is the documented one (model, input, float
// encoding, bearer key, no dimensions unless asked), and the vector comes
// back with the model as version and attribute.
func TestEmbed(t *testing.T) {
	f := newFake(t, 64, nil)
	p := f.provider(t, f.config(t, 64))
	r, err := enrich(t, p, "domain-name", "paypa1.example")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Vector, embedOf("paypa1.example", 64)) || r.Version != "text-embedding-3-small" || r.NotFound || r.Pause != 0 ||
		!reflect.DeepEqual(r.Attributes, []enrichment.Attribute{{Name: "embedding_model", Value: "text-embedding-3-small"}}) || len(r.Relations) != 0 {
		t.Fatalf("result %+v", r)
	}
	req, raw, auth := f.last()
	if req.Model != "text-embedding-3-small" || req.Input != "paypa1.example" || req.EncodingFormat != "float" || auth != "Bearer "+apiKey {
		t.Fatalf("request %+v auth %q", req, auth)
	}
	if _, ok := raw["dimensions"]; ok || len(raw) != 3 {
		t.Fatalf("request fields %v", raw)
	}
	if p.Type() != "embedding" || p.Name() != "embedding" || !reflect.DeepEqual(p.Kinds(), []string{"domain-name", "url"}) || p.Dimensions() != 64 || p.Model() != "text-embedding-3-small" {
		t.Fatalf("identity %s %s %v", p.Name(), p.Type(), p.Kinds())
	}

	// SendDimensions asks for the length; the fake shortens its vectors.
	cfg := f.config(t, 16)
	cfg.SendDimensions = true
	r, err = enrich(t, f.provider(t, cfg), "url", "https://example.com/login?next=/")
	if err != nil || len(r.Vector) != 16 {
		t.Fatalf("send dimensions: %d, %v", len(r.Vector), err)
	}
	if req, _, _ := f.last(); req.Dimensions == nil || *req.Dimensions != 16 {
		t.Fatalf("dimensions not sent: %+v", req)
	}

	// A local server without a key: no Authorization header at all.
	local := newFake(t, 8, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		vec, _ := json.Marshal(embedOf("x", 8))
		fmt.Fprintf(w, `{"data":[{"embedding":%s}]}`, vec)
	})
	lc := local.config(t, 8)
	lc.APIKey = ""
	if r, err := enrich(t, local.provider(t, lc), "domain-name", "x.example"); err != nil || len(r.Vector) != 8 {
		t.Fatalf("keyless: %+v, %v", r, err)
	}
}

// TestBadAnswers: wrong lengths, non-numbers, non-finite or float32-
// overflowing numbers, nulls, base64, several or no embeddings, zero
// vectors, non-JSON, oversized and deep answers are ClassBadResponse.
func TestBadAnswers(t *testing.T) {
	ok4 := `[0.1,-0.2,0.3,0.4]`
	for name, body := range map[string]string{
		"too short":       `{"data":[{"embedding":[0.1,0.2,0.3],"index":0}]}`,
		"too long":        `{"data":[{"embedding":[0.1,0.2,0.3,0.4,0.5],"index":0}]}`,
		"empty":           `{"data":[{"embedding":[],"index":0}]}`,
		"nan string":      `{"data":[{"embedding":[0.1,"NaN",0.3,0.4]}]}`,
		"inf string":      `{"data":[{"embedding":[0.1,"Infinity",0.3,0.4]}]}`,
		"numeric string":  `{"data":[{"embedding":[0.1,"0.2",0.3,0.4]}]}`,
		"null element":    `{"data":[{"embedding":[0.1,null,0.3,0.4]}]}`,
		"bool element":    `{"data":[{"embedding":[0.1,true,0.3,0.4]}]}`,
		"nested element":  `{"data":[{"embedding":[0.1,[0.2],0.3,0.4]}]}`,
		"float32 overflw": `{"data":[{"embedding":[0.1,1e39,0.3,0.4]}]}`,
		"float64 overflw": `{"data":[{"embedding":[0.1,1e400,0.3,0.4]}]}`,
		"base64":          `{"data":[{"embedding":"AAAAAAAAgD8AAAAAAAAAAA==","index":0}]}`,
		"no data":         `{"object":"list","data":[]}`,
		"missing data":    `{"object":"list"}`,
		"two embeddings":  `{"data":[{"embedding":` + ok4 + `,"index":0},{"embedding":` + ok4 + `,"index":1}]}`,
		"wrong index":     `{"data":[{"embedding":` + ok4 + `,"index":1}]}`,
		"all zeros":       `{"data":[{"embedding":[0,0,0.0,-0]}]}`,
		"not json":        `this is not json`,
		"trailing":        `{"data":[{"embedding":` + ok4 + `}]} {}`,
		"array":           `[` + ok4 + `]`,
		"oversized":       `{"data":[{"embedding":` + ok4 + `}],"pad":"` + strings.Repeat("x", 5000) + `"}`,
		"deep":            `{"data":[{"embedding":` + ok4 + `}],"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, 4, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, body)
			})
			cfg := f.config(t, 4)
			cfg.MaxBody = 4096
			r, err := enrich(t, f.provider(t, cfg), "domain-name", "value.example")
			wantClass(t, err, enrichment.ClassBadResponse, "value.example", f.srv.URL)
			if r.Vector != nil {
				t.Fatalf("vector with an error: %v", r.Vector)
			}
		})
	}
	// The same answer with the right length is fine (the cases fail for
	// their flaw only).
	f := newFake(t, 4, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"data":[{"embedding":`+ok4+`}]}`) })
	if r, err := enrich(t, f.provider(t, f.config(t, 4)), "domain-name", "value.example"); err != nil || !reflect.DeepEqual(r.Vector, []float32{0.1, -0.2, 0.3, 0.4}) {
		t.Fatalf("good answer: %+v, %v", r, err)
	}
}

// TestStatuses: 401 (wrong key) and 404 are ClassRejected, 429 is
// ClassRateLimited with Retry-After or OpenAI's reset headers, 5xx is
// ClassUnavailable; no error holds the key, the value or the URL.
func TestStatuses(t *testing.T) {
	f := newFake(t, 4, nil)
	cfg := f.config(t, 4)
	cfg.APIKey = "sk-wrong-" + apiKey[8:]
	_, err := enrich(t, f.provider(t, cfg), "domain-name", "secret-domain.example")
	wantClass(t, err, enrichment.ClassRejected, cfg.APIKey, "secret-domain.example", f.srv.URL)
	if _, _, auth := f.last(); auth != "Bearer "+cfg.APIKey {
		t.Fatalf("auth header %q", auth)
	}
	for _, tc := range []struct {
		name  string
		h     http.HandlerFunc
		class enrichment.Class
		retry time.Duration
	}{
		{"429 retry-after", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "9")
			http.Error(w, `{"error":{"message":"Rate limit reached","type":"requests"}}`, http.StatusTooManyRequests)
		}, enrichment.ClassRateLimited, 9 * time.Second},
		{"429 openai reset", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Ratelimit-Remaining-Requests", "0")
			w.Header().Set("X-Ratelimit-Reset-Requests", "20s")
			w.Header().Set("X-Ratelimit-Remaining-Tokens", "150000")
			w.Header().Set("X-Ratelimit-Reset-Tokens", "6m0s")
			w.WriteHeader(http.StatusTooManyRequests)
		}, enrichment.ClassRateLimited, 20 * time.Second},
		{"404", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":{"message":"The model does not exist","code":"model_not_found"}}`, http.StatusNotFound)
		}, enrichment.ClassRejected, 0},
		{"400", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":{"message":"This model's maximum context length is 8192 tokens"}}`, http.StatusBadRequest)
		}, enrichment.ClassRejected, 0},
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }, enrichment.ClassUnavailable, 0},
		{"502", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }, enrichment.ClassUnavailable, 0},
		{"html 200", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html>gateway login</html>")
		}, enrichment.ClassBadResponse, 0},
		{"redirect elsewhere", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://localhost:1/v1/embeddings", http.StatusTemporaryRedirect)
		}, enrichment.ClassRejected, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, 4, tc.h)
			r, err := enrich(t, f.provider(t, f.config(t, 4)), "domain-name", "secret-domain.example")
			e := wantClass(t, err, tc.class, "secret-domain.example", f.srv.URL, "localhost", "model_not_found", "context length")
			if e.RetryAfter != tc.retry || r.Vector != nil {
				t.Fatalf("RetryAfter %v, want %v; result %+v", e.RetryAfter, tc.retry, r)
			}
		})
	}
}

// TestPause: quota headers on a successful answer become Result.Pause
// (the common X-RateLimit-* and OpenAI's x-ratelimit-*-requests/tokens).
func TestPause(t *testing.T) {
	for _, tc := range []struct {
		headers map[string]string
		want    time.Duration
	}{
		{map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30"}, 30 * time.Second},
		{map[string]string{"X-Ratelimit-Remaining-Tokens": "0", "X-Ratelimit-Reset-Tokens": "1m30s", "X-Ratelimit-Remaining-Requests": "10"}, 90 * time.Second},
		{map[string]string{"X-Ratelimit-Remaining-Requests": "0", "X-Ratelimit-Reset-Requests": "garbage"}, time.Second},
		{map[string]string{"X-Ratelimit-Remaining-Requests": "0", "X-Ratelimit-Reset-Requests": "9999h"}, time.Hour},
		{map[string]string{"X-Ratelimit-Remaining-Requests": "5", "X-Ratelimit-Reset-Requests": "20s"}, 0},
	} {
		f := newFake(t, 4, func(w http.ResponseWriter, r *http.Request) {
			for k, v := range tc.headers {
				w.Header().Set(k, v)
			}
			fmt.Fprint(w, `{"data":[{"embedding":[1,2,3,4],"index":0}]}`)
		})
		r, err := enrich(t, f.provider(t, f.config(t, 4)), "url", "https://example.com/")
		if err != nil || r.Pause != tc.want || len(r.Vector) != 4 {
			t.Errorf("%v: pause %v, want %v (%v)", tc.headers, r.Pause, tc.want, err)
		}
	}
}

// TestRejectedValues: kinds not configured and values that are empty, too
// long or not UTF-8 are rejected without a request.
func TestRejectedValues(t *testing.T) {
	f := newFake(t, 4, nil)
	p := f.provider(t, f.config(t, 4))
	for _, q := range []struct{ kind, value string }{
		{"ipv4-addr", "192.0.2.1"}, {"domain-name", ""}, {"domain-name", "   "}, {"url", strings.Repeat("a", MaxInput+1)}, {"url", "\xff\xfe"},
	} {
		_, err := enrich(t, p, q.kind, q.value)
		wantClass(t, err, enrichment.ClassRejected, q.value)
	}
	if n := f.calls.Load(); n != 0 {
		t.Fatalf("%d requests", n)
	}
}

// TestTimeoutAndUnreachable: a passed deadline is ClassTimeout, a closed
// server ClassUnavailable.
func TestTimeoutAndUnreachable(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, 4, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	p := f.provider(t, f.config(t, 4))
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err := p.Enrich(ctx, enrichment.Request{Kind: "domain-name", Value: "slow.example"})
	wantClass(t, err, enrichment.ClassTimeout, "slow.example")

	gone := newFake(t, 4, nil)
	pg := gone.provider(t, gone.config(t, 4))
	gone.srv.Close()
	_, err = enrich(t, pg, "domain-name", "gone.example")
	wantClass(t, err, enrichment.ClassUnavailable, "gone.example", gone.srv.URL)
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
// concurrent calls are safe and each gets its own vector.
func TestUsesConfiguredClient(t *testing.T) {
	f := newFake(t, 32, nil)
	ct := &countingTransport{next: f.client(t).Transport}
	cfg := f.config(t, 32)
	cfg.Client = &http.Client{Transport: ct}
	p := f.provider(t, cfg)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			v := fmt.Sprintf("host-%d.example", i)
			r, err := enrich(t, p, "domain-name", v)
			if err != nil || !reflect.DeepEqual(r.Vector, embedOf(v, 32)) {
				t.Errorf("%s: %v", v, err)
			}
		})
	}
	wg.Wait()
	if ct.n.Load() != 16 || f.calls.Load() != 16 {
		t.Fatalf("transport %d, server %d", ct.n.Load(), f.calls.Load())
	}
}

// TestConfig: Validate reports every problem at once and never quotes the
// key; defaults apply.
func TestConfig(t *testing.T) {
	hc := enrichtest.NewCA(t).Client()
	t.Cleanup(hc.CloseIdleConnections)
	ok := func() Config {
		return Config{BaseURL: "https://llm.internal/v1", Model: "nomic-embed-text", Dimensions: 768, Client: hc}
	}
	p, err := New(ok())
	if err != nil {
		t.Fatal(err)
	}
	if p.endpoint != "https://llm.internal/v1/embeddings" || p.maxBody != DefaultMaxBody || p.auth != "" {
		t.Fatalf("defaults %+v", p)
	}
	weak := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want []string
	}{
		{"plain http", func(c *Config) { c.BaseURL = "http://llm.internal/v1" }, []string{"https"}},
		{"no base", func(c *Config) { c.BaseURL = "" }, []string{"no base URL"}},
		{"query", func(c *Config) { c.BaseURL = "https://llm.internal/v1?key=x" }, []string{"query"}},
		{"credentials", func(c *Config) { c.BaseURL = "https://k:" + apiKey + "@llm.internal/v1" }, []string{"credentials"}},
		{"no model", func(c *Config) { c.Model = " " }, []string{"no model"}},
		{"model control", func(c *Config) { c.Model = "a\nb" }, []string{"control"}},
		{"no dimensions", func(c *Config) { c.Dimensions = 0 }, []string{"dimensions"}},
		{"too many dimensions", func(c *Config) { c.Dimensions = MaxDimensions + 1 }, []string{"dimensions"}},
		{"bad key", func(c *Config) { c.APIKey = apiKey + "\r\nX: y" }, []string{"API key"}},
		{"key with space", func(c *Config) { c.APIKey = "Bearer " + apiKey }, []string{"API key"}},
		{"bad kind", func(c *Config) { c.Kinds = []string{"Domain Name"} }, []string{"kind"}},
		{"no client", func(c *Config) { c.Client = nil }, []string{"no HTTP client"}},
		{"weak client", func(c *Config) { c.Client = weak }, []string{"TLS 1.3"}},
		{"max body", func(c *Config) { c.MaxBody = -1 }, []string{"max body"}},
		{"everything", func(c *Config) {
			*c = Config{BaseURL: "ftp://x", APIKey: " " + apiKey, Dimensions: -1, MaxBody: -5}
		}, []string{"https", "no model", "dimensions", "API key", "no HTTP client", "max body"}},
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
			if strings.Contains(err.Error(), apiKey) {
				t.Fatalf("error %q quotes the key", err)
			}
		})
	}
}
