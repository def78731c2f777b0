package auth_test

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/heimdallhub/heimdall/internal/auth"
	"github.com/heimdallhub/heimdall/internal/config/devstack"
)

// TestVerifierAgainstProvider runs the Verifier against the development
// stack's Keycloak: tokens it issues, and tokens crafted here to be wrong in
// exactly one way.
//
// Crafting an expired (or not-yet-valid, wrong-issuer, wrong-audience)
// token with a VALID signature needs a private key the realm publishes.
// The test generates one and adds it to the realm through Keycloak's admin
// REST API as a passive RS256 key (published in the JWKS, never used by
// Keycloak to sign), and removes it when it ends.
func TestVerifierAgainstProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs the development stack (make stack-up)")
	}
	stack := devstack.Env(t)
	ctx := t.Context()

	t.Run("valid client token", func(t *testing.T) {
		v, _ := newVerifier(t, stack)
		raw := stack.TokenForClient(t, devstack.ClientCLI)
		p, err := v.Verify(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		if p.Subject != stack.SubjectOf(t, devstack.ClientCLI) || p.ClientID != devstack.ClientCLI || p.Issuer != stack.OIDCIssuer ||
			p.Clearance != "TOP SECRET" || !slices.Contains(p.Groups, devstack.GroupAdmin) || !slices.Contains(p.Groups, devstack.GroupIngest) {
			t.Errorf("principal = %+v", p)
		}
		if p.Claims["azp"] != devstack.ClientCLI || p.Claims["clearance"] != "TOP SECRET" || p.Claims["groups"] == nil {
			t.Errorf("claims = %v", p.Claims)
		}
		if time.Until(p.Expiry) <= 0 {
			t.Errorf("expiry %v is past", p.Expiry)
		}
	})

	t.Run("valid user token", func(t *testing.T) {
		v, _ := newVerifier(t, stack)
		p, err := v.Verify(ctx, stack.TokenForUser(t, devstack.UserBob))
		if err != nil {
			t.Fatal(err)
		}
		if p.Clearance != "CONFIDENTIAL" || !slices.Equal(p.Groups, []string{devstack.GroupAnalyst}) || p.ClientID != devstack.ClientWeb {
			t.Errorf("principal = %+v", p)
		}
	})

	// A key of the realm's whose private half the test holds.
	key := realmKey(t, stack)

	// The control for the crafted tokens below: signed with a key the
	// realm publishes and right in every way, it verifies.
	t.Run("crafted valid token", func(t *testing.T) {
		v, _ := newVerifier(t, stack)
		if _, err := v.Verify(ctx, key.sign(t, key.alg, key.kid, validClaims(t, stack))); err != nil {
			t.Fatalf("a correctly crafted token is refused, so the refusals below prove nothing: %v", err)
		}
	})

	now := time.Now()
	for _, tc := range []struct {
		name   string
		claims func(map[string]any)
		want   string
	}{
		{"expired", func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-time.Hour).Unix(), now.Add(-time.Hour).Unix(), now.Add(-time.Minute).Unix()
		}, "expired"},
		// go-oidc allows 5 minutes of clock skew on nbf.
		{"not yet valid", func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }, "not valid yet"},
		{"wrong issuer", func(c map[string]any) { c["iss"] = "https://idp.attacker.example" }, "another issuer"},
		{"wrong audience", func(c map[string]any) { c["aud"] = []string{"some-other-api"} }, "audience"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := newVerifier(t, stack)
			c := validClaims(t, stack)
			tc.claims(c)
			raw := key.sign(t, key.alg, key.kid, c)
			_, err := v.Verify(ctx, raw)
			assertRefused(t, raw, err, tc.want)
		})
	}

	t.Run("alg none", func(t *testing.T) {
		v, _ := newVerifier(t, stack)
		real := stack.TokenForClient(t, devstack.ClientCLI)
		hdr := header(t, real)
		for _, alg := range []string{"none", "None", "NONE"} {
			hdr["alg"] = alg
			for _, sig := range []string{"", "AAAA"} {
				raw := encodeJSON(t, hdr) + "." + strings.Split(real, ".")[1] + "." + sig
				_, err := v.Verify(ctx, raw)
				assertRefused(t, raw, err, "algorithm not accepted")
			}
		}
	})

	t.Run("HS256 keyed with the public key", func(t *testing.T) {
		v, _ := newVerifier(t, stack)
		real := stack.TokenForClient(t, devstack.ClientCLI)
		hdr := header(t, real)
		pub := publishedKey(t, stack, hdr["kid"].(string))
		der, err := x509.MarshalPKIXPublicKey(pub.Key)
		if err != nil {
			t.Fatal(err)
		}
		jwk, err := json.Marshal(pub)
		if err != nil {
			t.Fatal(err)
		}
		forms := map[string][]byte{
			"PEM": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
			"DER": der,
			"JWK": jwk,
		}
		if rk, ok := pub.Key.(*rsa.PublicKey); ok {
			forms["PKCS1 PEM"] = pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(rk)})
			forms["modulus"] = rk.N.Bytes()
		}
		hdr["alg"] = "HS256"
		input := encodeJSON(t, hdr) + "." + strings.Split(real, ".")[1]
		for name, secret := range forms {
			mac := hmac.New(sha256.New, secret)
			mac.Write([]byte(input))
			raw := input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
			_, err := v.Verify(ctx, raw)
			if err == nil {
				t.Fatalf("HS256 keyed with the public key (%s) accepted", name)
			}
			assertRefused(t, raw, err, "algorithm not accepted")
		}
	})

	t.Run("tampered signature", func(t *testing.T) {
		v, _ := newVerifier(t, stack)
		real := stack.TokenForClient(t, devstack.ClientCLI)
		if _, err := v.Verify(ctx, real); err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(real, ".")
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{0, len(sig) / 2, len(sig) - 1} {
			bad := slices.Clone(sig)
			bad[i] ^= 0x01
			raw := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(bad)
			_, err := v.Verify(ctx, raw)
			assertRefused(t, raw, err, "signature does not verify")
		}
		// The same signature over other claims.
		var c map[string]any
		if err := json.Unmarshal(decode(t, parts[1]), &c); err != nil {
			t.Fatal(err)
		}
		c["groups"] = []string{devstack.GroupAdmin, "heimdall-superuser"}
		raw := parts[0] + "." + encodeJSON(t, c) + "." + parts[2]
		_, err = v.Verify(ctx, raw)
		assertRefused(t, raw, err, "signature does not verify")
		// Tampering never refetched the keys: the kid is known.
		if got := v.JWKSFetches(); got != 1 {
			t.Errorf("JWKSFetches = %d, want 1", got)
		}
	})

	t.Run("unknown kid", func(t *testing.T) {
		v, _ := newVerifier(t, stack)
		stranger := strangerKey(t)
		for name, raw := range map[string]string{
			// The realm's own key under a kid it does not publish: the
			// kid must name the key.
			"provider key": key.sign(t, key.alg, "k-"+rand.Text(), validClaims(t, stack)),
			"stranger key": stranger.sign(t, stranger.alg, "k-"+rand.Text(), validClaims(t, stack)),
		} {
			_, err := v.Verify(ctx, raw)
			if err == nil {
				t.Fatalf("%s: accepted", name)
			}
			assertRefused(t, raw, err, "signing key is unknown")
		}
	})

	// A key of the attacker's signing under the kid of the key Keycloak
	// signs with (and under the test's published key's kid).
	t.Run("foreign key with a known kid", func(t *testing.T) {
		v, _ := newVerifier(t, stack)
		stranger := strangerKey(t)
		issuedKid, _ := header(t, stack.TokenForClient(t, devstack.ClientCLI))["kid"].(string)
		for _, kid := range []string{issuedKid, key.kid} {
			raw := stranger.sign(t, stranger.alg, kid, validClaims(t, stack))
			_, err := v.Verify(ctx, raw)
			assertRefused(t, raw, err, "signature does not verify")
		}
		if got := v.JWKSFetches(); got != 1 {
			t.Errorf("JWKSFetches = %d, want 1 (the kids are known)", got)
		}
	})

	t.Run("rotated keys work without restart", func(t *testing.T) {
		const interval = 2 * time.Second
		v, jwks := newVerifier(t, stack, auth.WithRefetchInterval(interval))
		before := stack.TokenForClient(t, devstack.ClientCLI)
		if _, err := v.Verify(ctx, before); err != nil {
			t.Fatal(err)
		}
		fetched := time.Now()
		oldKid := header(t, before)["kid"]

		newKid := stack.RotateProviderKeys(t)
		after := stack.TokenForClient(t, devstack.ClientCLI)
		if kid := header(t, after)["kid"]; kid == oldKid {
			t.Fatalf("the provider still signs with %v after the rotation", kid)
		} else if kid != newKid {
			t.Logf("token kid %v is not the rotated-to %s: another test rotated too", kid, newKid)
		}
		// Within the interval the new kid is refused without a fetch.
		_, err := v.Verify(ctx, after)
		if time.Since(fetched) < interval {
			assertRefused(t, after, err, "fetched moments ago")
			if got := v.JWKSFetches(); got != 1 {
				t.Errorf("JWKSFetches = %d within the interval, want 1", got)
			}
		}
		// Once the interval has passed, the first token with the new kid
		// refetches the keys and verifies: no restart.
		time.Sleep(time.Until(fetched.Add(interval)))
		if _, err := v.Verify(ctx, after); err != nil {
			t.Fatalf("token signed with the rotated key: %v", err)
		}
		if got := v.JWKSFetches(); got != 2 {
			t.Errorf("JWKSFetches = %d, want 2", got)
		}
		// Both keys are now cached: neither token fetches again. (The old
		// key is passive: still published, so its tokens verify until they
		// expire, and no longer used to sign.)
		for _, raw := range []string{after, before, stack.TokenForClient(t, devstack.ClientPeer)} {
			if _, err := v.Verify(ctx, raw); err != nil {
				t.Fatalf("after rotation: %v", err)
			}
		}
		if got, seen := v.JWKSFetches(), jwks.Load(); got != 2 || seen != 2 {
			t.Errorf("JWKSFetches = %d, JWKS requests seen = %d, want 2", got, seen)
		}
	})

	t.Run("unknown-kid flood fetches at most once per interval", func(t *testing.T) {
		const interval = 2 * time.Second
		v, jwks := newVerifier(t, stack, auth.WithRefetchInterval(interval))
		valid := stack.TokenForClient(t, devstack.ClientCLI)
		// The first fetch happens between start and fetched.
		start := time.Now()
		if _, err := v.Verify(ctx, valid); err != nil {
			t.Fatal(err)
		}
		fetched := time.Now()
		stranger := strangerKey(t)
		c := validClaims(t, stack)
		var floods []string
		for i := range 50 {
			k := key
			if i%2 == 1 {
				k = stranger
			}
			floods = append(floods, k.sign(t, k.alg, "flood-"+rand.Text(), c))
		}
		flood := func() {
			t.Helper()
			var wg sync.WaitGroup
			for _, raw := range floods {
				wg.Go(func() {
					_, err := v.Verify(ctx, raw)
					assertRefused(t, raw, err, "signing key is unknown")
				})
			}
			wg.Wait()
		}
		// At most one fetch per interval since the first one.
		bound := func() int64 { return 1 + int64(time.Since(start)/interval) }

		flood()
		if got := v.JWKSFetches(); got > bound() {
			t.Errorf("after the first flood: %d fetches, at most %d allowed", got, bound())
		}
		// A known kid keeps verifying from the cache meanwhile.
		if _, err := v.Verify(ctx, valid); err != nil {
			t.Fatalf("known kid during the flood: %v", err)
		}
		// After the interval the flood causes exactly one fetch more.
		time.Sleep(time.Until(fetched.Add(interval)))
		n := v.JWKSFetches()
		flood()
		got := v.JWKSFetches()
		if got == n {
			t.Errorf("flood after the interval: no refetch (%d fetches)", got)
		}
		if got > bound() {
			t.Errorf("flood after the interval: %d → %d fetches, at most %d allowed", n, got, bound())
		}
		if seen := jwks.Load(); seen != got {
			t.Errorf("the provider saw %d JWKS requests, the key set counted %d", seen, got)
		}
		t.Logf("%d tokens with unknown kids over %v: %d JWKS fetches", 2*len(floods), time.Since(start).Round(time.Millisecond), got)
	})
}

// newVerifier returns a Verifier for the stack's provider and a counter of
// the JWKS requests its HTTP client made.
func newVerifier(t *testing.T, stack devstack.Stack, opts ...auth.Option) (*auth.Verifier, *atomic.Int64) {
	t.Helper()
	var jwks atomic.Int64
	base := stack.HTTPClient()
	client := &http.Client{Timeout: base.Timeout, Transport: countingTransport{base.Transport, &jwks}}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	v := auth.New(stack.OIDCIssuer, devstack.APIAudience, client, log, opts...)
	if err := v.Ready(t.Context()); err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return v, &jwks
}

// countingTransport counts every request except discovery: the JWKS ones.
type countingTransport struct {
	http.RoundTripper
	n *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.Contains(r.URL.Path, "/.well-known/") {
		c.n.Add(1)
	}
	return c.RoundTripper.RoundTrip(r)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func validClaims(t *testing.T, stack devstack.Stack) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": stack.OIDCIssuer, "sub": stack.SubjectOf(t, devstack.ClientCLI), "aud": []string{devstack.APIAudience},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": rand.Text(),
		"client_id": devstack.ClientCLI, "azp": devstack.ClientCLI,
		"groups": []string{devstack.GroupAdmin, devstack.GroupIngest}, "clearance": "TOP SECRET",
	}
}

// signingKey is a private key with the kid and algorithm it signs under.
type signingKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func (k signingKey) sign(t *testing.T, alg jose.SignatureAlgorithm, kid string, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k.priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
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

// realmKey adds a fresh RSA key to the realm as a passive RS256 key (see
// TestVerifierAgainstProvider) and returns it with the kid Keycloak gave it.
func realmKey(t *testing.T, stack devstack.Stack) signingKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	kid := stack.Admin(t).ImportRSAKey(t, priv, 1, false)
	return signingKey{kid: kid, alg: jose.RS256, priv: priv}
}

// strangerKey is an RSA key the provider has never heard of.
func strangerKey(t *testing.T) signingKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: "stranger", alg: jose.RS256, priv: k}
}

// publishedKey returns the provider's published JWK with kid.
func publishedKey(t *testing.T, stack devstack.Stack, kid string) jose.JSONWebKey {
	t.Helper()
	var disc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, stack, stack.OIDCIssuer+"/.well-known/openid-configuration", &disc)
	var set jose.JSONWebKeySet
	getJSON(t, stack, disc.JWKSURI, &set)
	keys := set.Key(kid)
	if len(keys) == 0 {
		t.Fatalf("kid %s not in the provider's JWKS", kid)
	}
	return keys[0]
}

func getJSON(t *testing.T, stack devstack.Stack, url string, v any) {
	t.Helper()
	resp, err := stack.HTTPClient().Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func header(t *testing.T, raw string) map[string]any {
	t.Helper()
	var h map[string]any
	if err := json.Unmarshal(decode(t, strings.Split(raw, ".")[0]), &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func decode(t *testing.T, seg string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func encodeJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// assertRefused checks that err is a 401-style refusal (ErrInvalidToken)
// whose message says want and contains no part of the token: no 8
// consecutive characters of raw and no string from its header or claims.
func assertRefused(t *testing.T, raw string, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatal("token accepted")
	}
	if !errors.Is(err, auth.ErrInvalidToken) || errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("error %q is not a 401-style refusal (ErrInvalidToken)", err)
	}
	msg := err.Error()
	t.Logf("refused: %s", msg)
	if !strings.Contains(msg, want) {
		t.Errorf("error %q does not say %q", msg, want)
	}
	const window = 8
	for i := 0; i+window <= len(raw); i++ {
		if strings.Contains(msg, raw[i:i+window]) {
			t.Fatalf("error %q quotes the token (%q)", msg, raw[i:i+window])
		}
	}
	for _, seg := range strings.Split(raw, ".")[:2] {
		b, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil {
			continue
		}
		var m map[string]any
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		for k, v := range m {
			var ss []string
			switch v := v.(type) {
			case string:
				ss = []string{v}
			case []any:
				for _, e := range v {
					if s, ok := e.(string); ok {
						ss = append(ss, s)
					}
				}
			}
			for _, s := range ss {
				if len(s) > 3 && strings.Contains(msg, s) {
					t.Fatalf("error %q quotes the token's %s", msg, k)
				}
			}
		}
	}
}
