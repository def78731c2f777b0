package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"github.com/heimdallhub/heimdall/internal/rbac"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// These tests run a fake provider (discovery and JWKS over TLS) and sign
// tokens with keys made here. auth_integration_test.go runs the same
// kind of checks against the development stack's real provider.

const testAudience = "heimdall-api"

// withClock sets the verifier's clock (token times and refetch interval).
func withClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testKey is a signing key with its published form.
type testKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
	// jwkAlg overrides the alg published in the JWKS ("-" publishes none).
	jwkAlg string
}

var (
	rsaOnce sync.Once
	rsaPool []*rsa.PrivateKey
)

// rsaKey returns one of a few RSA keys generated once per test binary.
func rsaKey(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		for range 4 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaPool = append(rsaPool, k)
		}
	})
	return rsaPool[i]
}

func newRSAKey(t testing.TB, i int, alg jose.SignatureAlgorithm) *testKey {
	return &testKey{kid: "rsa-" + rand.Text()[:8], alg: alg, priv: rsaKey(t, i)}
}

func newECKey(t testing.TB) *testKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{kid: "ec-" + rand.Text()[:8], alg: jose.ES256, priv: k}
}

func (k *testKey) jwk() jose.JSONWebKey {
	alg := string(k.alg)
	switch k.jwkAlg {
	case "":
	case "-":
		alg = ""
	default:
		alg = k.jwkAlg
	}
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: alg, Use: "sig"}
}

// sign signs claims with k under header alg and kid.
func sign(t testing.TB, k *testKey, alg jose.SignatureAlgorithm, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// unsigned builds a token with any header and an explicit signature.
func unsigned(header, claims map[string]any, sig []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	b64 := base64.RawURLEncoding.EncodeToString
	return b64(h) + "." + b64(c) + "." + b64(sig)
}

// hs256 signs header and claims with HMAC-SHA256 keyed with key.
func hs256(header, claims map[string]any, key []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	b64 := base64.RawURLEncoding.EncodeToString
	input := b64(h) + "." + b64(c)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(input))
	return input + "." + b64(mac.Sum(nil))
}

// fakeIDP serves discovery and a JWKS over TLS.
type fakeIDP struct {
	srv     *httptest.Server
	mu      sync.Mutex
	keys    []*testKey
	extra   []json.RawMessage // raw JWKs served after keys
	status  int               // JWKS status; 0 means 200
	fetches atomic.Int64
}

func newFakeIDP(t *testing.T, keys ...*testKey) *fakeIDP {
	t.Helper()
	f := &fakeIDP{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                f.srv.URL,
			"jwks_uri":                              f.srv.URL + "/keys",
			"authorization_endpoint":                f.srv.URL + "/authorize",
			"token_endpoint":                        f.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "PS256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		f.fetches.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.status != 0 {
			http.Error(w, "nope", f.status)
			return
		}
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		for _, k := range f.keys {
			b, err := json.Marshal(k.jwk())
			if err != nil {
				panic(err)
			}
			set.Keys = append(set.Keys, b)
		}
		set.Keys = append(set.Keys, f.extra...)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	})
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIDP) publish(keys ...*testKey) {
	f.mu.Lock()
	f.keys = keys
	f.mu.Unlock()
}

func (f *fakeIDP) verifier(clock *fakeClock, opts ...Option) *Verifier {
	opts = append([]Option{withClock(clock.Now)}, opts...)
	return New(f.srv.URL, testAudience, f.srv.Client(), nil, opts...)
}

func (f *fakeIDP) claims(clock *fakeClock) map[string]any {
	now := clock.Now()
	return map[string]any{
		"iss": f.srv.URL, "sub": "user-1", "aud": testAudience,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		"client_id": "heimdall-cli", "groups": []string{"heimdall-admin", "heimdall-ingest"},
		"clearance": "TOP SECRET", "realm_access": map[string]any{"roles": []string{"x"}},
	}
}

func with(c map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(c))
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// assertRefused checks that err is a 401-style refusal mentioning want and
// quoting nothing of raw.
func assertRefused(t *testing.T, raw string, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatal("token accepted")
	}
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("error %q does not wrap ErrInvalidToken", err)
	}
	if want != "" && !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	assertNoTokenContent(t, err.Error(), raw)
}

// assertNoTokenContent fails if msg contains any 8 consecutive characters
// of raw or any claim or header string value of raw longer than 3 bytes.
func assertNoTokenContent(t *testing.T, msg, raw string) {
	t.Helper()
	const window = 8
	for i := 0; i+window <= len(raw); i++ {
		if strings.Contains(msg, raw[i:i+window]) {
			t.Fatalf("error %q quotes the token (%q)", msg, raw[i:i+window])
		}
	}
	for _, part := range strings.SplitN(raw, ".", 3)[:min(2, strings.Count(raw, ".")+1)] {
		b, err := base64.RawURLEncoding.DecodeString(part)
		if err != nil {
			continue
		}
		var m map[string]any
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		for k, v := range m {
			for _, s := range rbac.StringValues(v) {
				if len(s) > 3 && strings.Contains(msg, s) {
					t.Fatalf("error %q quotes the token's %s (%q)", msg, k, s)
				}
			}
		}
	}
}

func TestVerifyValid(t *testing.T) {
	rs, ps, es := newRSAKey(t, 0, jose.RS256), newRSAKey(t, 1, jose.PS256), newECKey(t)
	f := newFakeIDP(t, rs, ps, es)
	clock := newFakeClock()
	var hooked atomic.Int64
	v := f.verifier(clock, WithJWKSFetchHook(func(err error) {
		if err != nil {
			t.Errorf("fetch hook: %v", err)
		}
		hooked.Add(1)
	}))
	ctx := t.Context()
	for _, k := range []*testKey{rs, ps, es} {
		t.Run(string(k.alg), func(t *testing.T) {
			p, err := v.Verify(ctx, sign(t, k, k.alg, k.kid, f.claims(clock)))
			if err != nil {
				t.Fatal(err)
			}
			if p.Subject != "user-1" || p.Issuer != f.srv.URL || p.ClientID != "heimdall-cli" ||
				p.Clearance != "TOP SECRET" || strings.Join(p.Groups, ",") != "heimdall-admin,heimdall-ingest" {
				t.Errorf("principal = %+v", p)
			}
			if p.Expiry.Unix() != clock.Now().Add(10*time.Minute).Unix() {
				t.Errorf("expiry = %v", p.Expiry)
			}
			ra, _ := p.Claims["realm_access"].(map[string]any)
			if p.Claims["sub"] != "user-1" || ra == nil {
				t.Errorf("claims = %v", p.Claims)
			}
		})
	}
	if got := v.JWKSFetches(); got != 1 {
		t.Errorf("JWKSFetches = %d, want 1 (one fetch, then the cache)", got)
	}
	if got := f.fetches.Load(); got != 1 {
		t.Errorf("provider saw %d JWKS fetches, want 1", got)
	}
	// The hook runs after the waiters wake.
	for deadline := time.Now().Add(5 * time.Second); hooked.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if hooked.Load() != 1 {
		t.Errorf("fetch hook called %d times, want 1", hooked.Load())
	}
}

func TestVerifyPrincipalVariants(t *testing.T) {
	k := newRSAKey(t, 0, jose.RS256)
	f := newFakeIDP(t, k)
	clock := newFakeClock()
	v := f.verifier(clock)
	c := f.claims(clock)
	for _, tc := range []struct {
		name      string
		claims    map[string]any
		client    string
		groups    string
		clearance string
	}{
		{"azp when no client_id", with(c, "client_id", nil, "azp", "web"), "web", "heimdall-admin,heimdall-ingest", "TOP SECRET"},
		{"groups as a string", with(c, "groups", "g1"), "heimdall-cli", "g1", "TOP SECRET"},
		{"groups of mixed types", with(c, "groups", []any{"g1", 7, "", "g2"}), "heimdall-cli", "g1,g2", "TOP SECRET"},
		{"no groups, clearance not a string", with(c, "groups", nil, "clearance", 3), "heimdall-cli", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(t.Context(), sign(t, k, k.alg, k.kid, tc.claims))
			if err != nil {
				t.Fatal(err)
			}
			if p.ClientID != tc.client || strings.Join(p.Groups, ",") != tc.groups || p.Clearance != tc.clearance {
				t.Errorf("principal = %+v", p)
			}
		})
	}
}

func TestVerifyRefusals(t *testing.T) {
	rs := newRSAKey(t, 0, jose.RS256)
	es := newECKey(t)
	// Published for RS256 only: a PS256 token under its kid is a mismatch.
	rsOnly := newRSAKey(t, 1, jose.PS256)
	rsOnly.jwkAlg = string(jose.RS256)
	// Published without alg: only the key type decides.
	noAlg := newRSAKey(t, 2, jose.RS256)
	noAlg.jwkAlg = "-"
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weak := &testKey{kid: "weak", alg: jose.RS256, priv: small}
	f := newFakeIDP(t, rs, es, rsOnly, noAlg, weak)
	clock := newFakeClock()
	v := f.verifier(clock, WithRefetchInterval(time.Hour))
	c := f.claims(clock)
	now := clock.Now()

	pubDER, err := x509.MarshalPKIXPublicKey(rs.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	jwkJSON, _ := json.Marshal(rs.jwk())
	valid := sign(t, rs, rs.alg, rs.kid, c)
	parts := strings.Split(valid, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[len(sig)/2] ^= 0x01
	tamperedSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	otherClaims, _ := json.Marshal(with(c, "sub", "admin"))
	tamperedPayload := parts[0] + "." + base64.RawURLEncoding.EncodeToString(otherClaims) + "." + parts[2]
	stranger := &testKey{kid: "stranger", alg: jose.RS256, priv: rsaKey(t, 3)}

	// The control: a token like the refused ones but valid.
	if _, err := v.Verify(t.Context(), valid); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
	if _, err := v.Verify(t.Context(), sign(t, noAlg, jose.PS256, noAlg.kid, c)); err != nil {
		t.Fatalf("RSA key without published alg refused for PS256: %v", err)
	}

	hdr := func(alg string) map[string]any { return map[string]any{"alg": alg, "kid": rs.kid, "typ": "JWT"} }
	for _, tc := range []struct {
		name, raw, want string
	}{
		{"expired", sign(t, rs, rs.alg, rs.kid, with(c, "exp", now.Add(-time.Minute).Unix())), "expired"},
		{"not yet valid", sign(t, rs, rs.alg, rs.kid, with(c, "nbf", now.Add(time.Hour).Unix())), "not valid yet"},
		{"wrong issuer", sign(t, rs, rs.alg, rs.kid, with(c, "iss", "https://audience.evil.example")), "another issuer"},
		{"wrong audience", sign(t, rs, rs.alg, rs.kid, with(c, "aud", "https://issuer.evil.example")), "audience"},
		{"no subject", sign(t, rs, rs.alg, rs.kid, with(c, "sub", nil)), "no subject"},
		{"no exp", sign(t, rs, rs.alg, rs.kid, with(c, "exp", nil)), "expired"},
		{"alg none", unsigned(hdr("none"), c, nil), "algorithm not accepted"},
		{"alg none with a signature", unsigned(hdr("none"), c, []byte("x")), "algorithm not accepted"},
		{"alg None", unsigned(hdr("None"), c, nil), "algorithm not accepted"},
		{"HS256 keyed with the public key PEM", hs256(hdr("HS256"), c, pubPEM), "algorithm not accepted"},
		{"HS256 keyed with the public key DER", hs256(hdr("HS256"), c, pubDER), "algorithm not accepted"},
		{"HS256 keyed with the public JWK", hs256(hdr("HS256"), c, jwkJSON), "algorithm not accepted"},
		{"RS512", sign(t, rs, jose.RS512, rs.kid, c), "algorithm not accepted"},
		{"tampered signature", tamperedSig, "signature does not verify"},
		{"tampered payload", tamperedPayload, "signature does not verify"},
		{"unknown kid", sign(t, stranger, jose.RS256, stranger.kid, c), "signing key is unknown"},
		{"known kid, another key", sign(t, stranger, jose.RS256, rs.kid, c), "signature does not verify"},
		{"no kid, unknown key", sign(t, stranger, jose.RS256, "", c), "signature does not verify"},
		{"RSA kid under ES256", sign(t, es, jose.ES256, rs.kid, c), "does not fit"},
		{"EC kid under RS256", sign(t, rs, jose.RS256, es.kid, c), "does not fit"},
		{"key published for RS256, token PS256", sign(t, rsOnly, jose.PS256, rsOnly.kid, c), "does not fit"},
		{"RSA key under 2048 bits", sign(t, weak, jose.RS256, weak.kid, c), "signing key"},
		{"two parts", parts[0] + "." + parts[1], "malformed"},
		{"four parts", valid + ".x", "malformed"},
		{"not base64", parts[0] + ".%%%." + parts[2], "malformed"},
		{"header not JSON", "bm90IGpzb24." + parts[1] + "." + parts[2], "malformed"},
		{"JSON serialization", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, "malformed"},
		{"too large", valid + strings.Repeat("A", MaxTokenBytes), "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), tc.raw)
			assertRefused(t, tc.raw, err, tc.want)
		})
	}
	if got := f.fetches.Load(); got != 1 {
		t.Errorf("provider saw %d JWKS fetches, want 1 (refetch interval 1h)", got)
	}
	if _, err := v.Verify(t.Context(), ""); !errors.Is(err, ErrNoToken) {
		t.Errorf("empty token: %v", err)
	}
}

func TestUnknownKidFloodThrottled(t *testing.T) {
	k := newRSAKey(t, 0, jose.RS256)
	stranger := &testKey{kid: "x", alg: jose.RS256, priv: rsaKey(t, 1)}
	f := newFakeIDP(t, k)
	clock := newFakeClock()
	const interval = 30 * time.Second
	v := f.verifier(clock, WithRefetchInterval(interval))
	ctx := t.Context()
	c := f.claims(clock)

	flood := func() (refused int) {
		var wg sync.WaitGroup
		var n atomic.Int64
		for range 50 {
			wg.Go(func() {
				raw := sign(t, stranger, jose.RS256, rand.Text(), c)
				if _, err := v.Verify(ctx, raw); errors.Is(err, ErrInvalidToken) {
					assertNoTokenContent(t, err.Error(), raw)
					n.Add(1)
				} else {
					t.Errorf("unknown kid: %v", err)
				}
			})
		}
		wg.Wait()
		return int(n.Load())
	}

	// Before any fetch: concurrent unknown kids share one fetch.
	if got := flood(); got != 50 {
		t.Errorf("%d of 50 refused", got)
	}
	if got := f.fetches.Load(); got != 1 {
		t.Fatalf("first flood: %d fetches, want 1", got)
	}
	// Within the interval: no fetch at all, and known kids still verify.
	clock.Advance(interval / 2)
	flood()
	if _, err := v.Verify(ctx, sign(t, k, k.alg, k.kid, f.claims(clock))); err != nil {
		t.Fatalf("known kid during the flood: %v", err)
	}
	if got := f.fetches.Load(); got != 1 {
		t.Fatalf("flood within the interval: %d fetches, want 1", got)
	}
	_, err := v.Verify(ctx, sign(t, stranger, jose.RS256, "y", c))
	assertRefused(t, "", err, "fetched moments ago")
	// After the interval: one more fetch for the whole flood.
	clock.Advance(interval / 2)
	flood()
	if got := f.fetches.Load(); got != 2 {
		t.Fatalf("flood after the interval: %d fetches, want 2", got)
	}
	if got := v.JWKSFetches(); got != 2 {
		t.Errorf("JWKSFetches = %d, want 2", got)
	}
}

func TestRotationPickedUp(t *testing.T) {
	a, b := newRSAKey(t, 0, jose.RS256), newECKey(t)
	f := newFakeIDP(t, a)
	clock := newFakeClock()
	const interval = 10 * time.Second
	v := f.verifier(clock, WithRefetchInterval(interval))
	ctx := t.Context()
	if _, err := v.Verify(ctx, sign(t, a, a.alg, a.kid, f.claims(clock))); err != nil {
		t.Fatal(err)
	}
	// The provider rotates: b signs, a stays published.
	f.publish(b, a)
	tokB := sign(t, b, b.alg, b.kid, f.claims(clock))
	_, err := v.Verify(ctx, tokB)
	assertRefused(t, tokB, err, "fetched moments ago")
	clock.Advance(interval)
	tokB = sign(t, b, b.alg, b.kid, f.claims(clock))
	if _, err := v.Verify(ctx, tokB); err != nil {
		t.Fatalf("new key after the interval: %v", err)
	}
	for _, raw := range []string{tokB, sign(t, a, a.alg, a.kid, f.claims(clock))} {
		if _, err := v.Verify(ctx, raw); err != nil {
			t.Fatalf("cached key: %v", err)
		}
	}
	if got := f.fetches.Load(); got != 2 {
		t.Errorf("%d fetches, want 2", got)
	}
	// a is withdrawn: its cached copy stays until an unknown kid refetches.
	f.publish(b)
	clock.Advance(interval)
	c := newRSAKey(t, 1, jose.RS256)
	_, err = v.Verify(ctx, sign(t, c, c.alg, c.kid, f.claims(clock)))
	assertRefused(t, "", err, "does not publish")
	tokA := sign(t, a, a.alg, a.kid, f.claims(clock))
	_, err = v.Verify(ctx, tokA)
	assertRefused(t, tokA, err, "fetched moments ago")
}

func TestJWKSUnavailable(t *testing.T) {
	k := newRSAKey(t, 0, jose.RS256)
	f := newFakeIDP(t, k)
	f.status = http.StatusBadGateway
	clock := newFakeClock()
	v := f.verifier(clock, WithRefetchInterval(time.Minute))
	raw := sign(t, k, k.alg, k.kid, f.claims(clock))
	for i := range 3 {
		_, err := v.Verify(t.Context(), raw)
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalidToken) {
			t.Fatalf("attempt %d: %v, want ErrUnavailable", i, err)
		}
		assertNoTokenContent(t, err.Error(), raw)
	}
	if got := f.fetches.Load(); got != 1 {
		t.Errorf("%d fetches while failing, want 1 per interval", got)
	}
	f.mu.Lock()
	f.status = 0
	f.mu.Unlock()
	clock.Advance(time.Minute)
	if _, err := v.Verify(t.Context(), sign(t, k, k.alg, k.kid, f.claims(clock))); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestDiscoveryUnavailable(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	v := New(srv.URL, testAudience, srv.Client(), nil)
	if err := v.Ready(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Ready: %v", err)
	}
	if _, err := v.Verify(t.Context(), "a.b.c"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("malformed token before discovery: %v", err)
	}
	k := newRSAKey(t, 0, jose.RS256)
	raw := sign(t, k, k.alg, k.kid, map[string]any{"sub": "x"})
	if _, err := v.Verify(t.Context(), raw); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Verify: %v", err)
	}
	if v.JWKSFetches() != 0 {
		t.Error("fetches before discovery")
	}
}

func TestVerifyContextCanceledWhileWaiting(t *testing.T) {
	k := newRSAKey(t, 0, jose.RS256)
	f := newFakeIDP(t, k)
	clock := newFakeClock()
	v := f.verifier(clock)
	if err := v.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// Usually refused (the caller gives up before the fetch ends).
	_, _ = v.Verify(ctx, sign(t, k, k.alg, k.kid, f.claims(clock)))
	// The fetch goes on regardless; the next caller waits for it or uses
	// its result.
	if _, err := v.Verify(t.Context(), sign(t, k, k.alg, k.kid, f.claims(clock))); err != nil {
		t.Fatal(err)
	}
	if got := f.fetches.Load(); got != 1 {
		t.Errorf("%d fetches, want 1", got)
	}
}

func TestParseJWKSKeepsOnlyUsableKeys(t *testing.T) {
	rs := newRSAKey(t, 0, jose.RS256)
	es := newECKey(t)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	marshal := func(k jose.JSONWebKey) string {
		b, err := json.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	body := `{"keys":[` + strings.Join([]string{
		marshal(rs.jwk()),
		marshal(es.jwk()),
		marshal(jose.JSONWebKey{Key: rs.priv, KeyID: "private", Algorithm: "RS256", Use: "sig"}),
		marshal(jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "oct", Algorithm: "HS256"}),
		marshal(jose.JSONWebKey{Key: rs.priv.Public(), KeyID: "enc", Use: "enc"}),
		marshal(jose.JSONWebKey{Key: p384.Public(), KeyID: "p384"}),
		marshal(jose.JSONWebKey{Key: small.Public(), KeyID: "small"}),
		marshal(jose.JSONWebKey{Key: rs.priv.Public(), KeyID: "rs512", Algorithm: "RS512"}),
		`{"kty":"OKP","crv":"Ed448","x":"AAAA","kid":"ed448"}`,
		`{"kty":"weird","kid":"weird"}`,
	}, ",") + `]}`
	keys, err := parseJWKS([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range keys {
		kids = append(kids, k.KeyID)
	}
	if got, want := strings.Join(kids, ","), rs.kid+","+es.kid; got != want {
		t.Errorf("kept %s, want %s", got, want)
	}
	if _, err := parseJWKS([]byte("not json")); err == nil {
		t.Error("garbage JWKS accepted")
	}
}

func TestBearerToken(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer abc":   "abc",
		"bearer  abc ": "abc",
		"BEARER abc":   "abc",
		"Basic abc":    "",
		"Bearer ":      "",
		"":             "",
		"Bearerabc":    "",
	} {
		if got := BearerToken(in); got != want {
			t.Errorf("BearerToken(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPrincipalContext(t *testing.T) {
	if _, ok := FromContext(t.Context()); ok {
		t.Fatal("principal in an empty context")
	}
	p := Principal{Subject: "s", Claims: map[string]any{"a": "b"}}
	got, ok := FromContext(WithPrincipal(t.Context(), p))
	if !ok || got.Subject != "s" || got.Claims["a"] != "b" {
		t.Errorf("FromContext = %+v, %v", got, ok)
	}
}

// With WithWaitForRefetch a token signed with a freshly rotated key waits
// for the next allowed fetch instead of being refused, and a flood of
// made-up kids still causes at most one fetch per interval.
func TestWaitForRefetchAfterRotation(t *testing.T) {
	a, b := newRSAKey(t, 0, jose.RS256), newECKey(t)
	stranger := &testKey{kid: "x", alg: jose.RS256, priv: rsaKey(t, 1)}
	f := newFakeIDP(t, a)
	const interval = 300 * time.Millisecond
	v := New(f.srv.URL, testAudience, f.srv.Client(), nil, WithRefetchInterval(interval), WithWaitForRefetch())
	ctx := t.Context()
	clock := newFakeClock() // claims' times only: the verifier runs on the real clock
	if _, err := v.Verify(ctx, sign(t, a, a.alg, a.kid, f.claims(clock))); err != nil {
		t.Fatal(err)
	}
	f.publish(b, a)
	start := time.Now()
	if _, err := v.Verify(ctx, sign(t, b, b.alg, b.kid, f.claims(clock))); err != nil {
		t.Fatalf("token of the rotated key: %v", err)
	}
	if waited := time.Since(start); waited > 2*interval {
		t.Fatalf("waited %s for a refetch allowed after %s", waited, interval)
	}
	start = time.Now()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := v.Verify(ctx, sign(t, stranger, jose.RS256, rand.Text(), f.claims(clock))); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("unknown kid: %v", err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if got, most := f.fetches.Load(), int64(2+elapsed/interval+1); got > most {
		t.Fatalf("%d fetches in %s with a %s interval", got, elapsed, interval)
	}
}
