package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/heimdallhub/heimdall/internal/config/devstack"
)

// testPKI is a throwaway CA and a leaf it issued for 127.0.0.1 and
// localhost, written as PEM files.
type testPKI struct {
	caFile, certFile, keyFile string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "heimdall idp test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}

	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leafKeyDER, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}

	p := testPKI{
		caFile:   filepath.Join(dir, "ca.crt"),
		certFile: filepath.Join(dir, "idp.crt"),
		keyFile:  filepath.Join(dir, "idp.key"),
	}
	writePEM(t, p.caFile, "CERTIFICATE", caDER)
	// The chain: leaf then CA, as deploy/stack.sh writes it.
	writePEM(t, p.certFile, "CERTIFICATE", leafDER, caDER)
	writePEM(t, p.keyFile, "PRIVATE KEY", leafKeyDER)
	return p
}

func writePEM(t *testing.T, path, typ string, ders ...[]byte) {
	t.Helper()
	var out []byte
	for _, der := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})...)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// testIDP is a provider running in-process on 127.0.0.1.
type testIDP struct {
	stack devstack.Stack
	addr  string
	stop  func()
}

// startIDP serves the provider, configured by config.yaml, on addr
// ("127.0.0.1:0" for any port) through the same code path as main.
func startIDP(t *testing.T, pki testPKI, addr, stateDir string) *testIDP {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	issuer := "https://" + ln.Addr().String()
	logger := slog.New(slog.NewJSONHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := newServer(options{
		addr:     ln.Addr().String(),
		certFile: pki.certFile,
		keyFile:  pki.keyFile,
		config:   "config.yaml",
		stateDir: stateDir,
		issuer:   issuer,
	}, logger)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, srv, ln, logger) }()

	idp := &testIDP{addr: ln.Addr().String()}
	stopped := false
	idp.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(idp.stop)

	env := map[string]string{
		devstack.EnvOIDCIssuer:   issuer,
		devstack.EnvCAFile:       pki.caFile,
		devstack.EnvStackDir:     t.TempDir(),
		devstack.EnvPostgresURL:  "postgres://unused.invalid/heimdall",
		devstack.EnvKafkaBrokers: "unused.invalid:9093",
	}
	idp.stack = devstack.FromLookup(t, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	return idp
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// accessClaims is what Heimdall reads from an access token.
type accessClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  []string `json:"aud"`
	Expiry    int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
	JWTID     string   `json:"jti"`
	ClientID  string   `json:"client_id"`
	AZP       string   `json:"azp"`
	Groups    []string `json:"groups"`
	Clearance *string  `json:"clearance"`
}

// verifyAccess verifies an access token as the API would: go-oidc with the
// API's audience, and RS256 only.
func verifyAccess(t *testing.T, s devstack.Stack, raw string) accessClaims {
	t.Helper()
	v := s.Provider(t).Verifier(&oidc.Config{ClientID: devstack.APIAudience, SupportedSigningAlgs: []string{oidc.RS256}})
	tok, err := v.Verify(s.ClientContext(t.Context()), raw)
	if err != nil {
		t.Fatalf("verify access token: %v", err)
	}
	var c accessClaims
	if err := tok.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func kidOf(t *testing.T, raw string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}

func TestDiscovery(t *testing.T) {
	idp := startIDP(t, newTestPKI(t), "127.0.0.1:0", t.TempDir())
	resp, err := idp.stack.HTTPClient().Get(idp.stack.OIDCIssuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: %s", resp.Status)
	}
	var d struct {
		Issuer                string   `json:"issuer"`
		TokenEndpoint         string   `json:"token_endpoint"`
		AuthorizationEndpoint string   `json:"authorization_endpoint"`
		JWKSURI               string   `json:"jwks_uri"`
		GrantTypes            []string `json:"grant_types_supported"`
		ResponseTypes         []string `json:"response_types_supported"`
		CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
		SigningAlgs           []string `json:"id_token_signing_alg_values_supported"`
		Claims                []string `json:"claims_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.Issuer != idp.stack.OIDCIssuer {
		t.Errorf("issuer = %q, want %q", d.Issuer, idp.stack.OIDCIssuer)
	}
	for _, u := range []string{d.TokenEndpoint, d.AuthorizationEndpoint, d.JWKSURI} {
		if !strings.HasPrefix(u, idp.stack.OIDCIssuer+"/") {
			t.Errorf("endpoint %q not under the issuer", u)
		}
	}
	for _, g := range []string{"authorization_code", "refresh_token", "client_credentials"} {
		if !slices.Contains(d.GrantTypes, g) {
			t.Errorf("grant_types_supported %v lacks %s", d.GrantTypes, g)
		}
	}
	for _, g := range []string{"implicit", "urn:ietf:params:oauth:grant-type:jwt-bearer"} {
		if slices.Contains(d.GrantTypes, g) {
			t.Errorf("grant_types_supported %v advertises %s", d.GrantTypes, g)
		}
	}
	if !slices.Equal(d.ResponseTypes, []string{"code"}) {
		t.Errorf("response_types_supported = %v, want [code]", d.ResponseTypes)
	}
	if !slices.Contains(d.CodeChallengeMethods, "S256") {
		t.Errorf("code_challenge_methods_supported = %v, want S256", d.CodeChallengeMethods)
	}
	if !slices.Equal(d.SigningAlgs, []string{"RS256"}) {
		t.Errorf("id_token_signing_alg_values_supported = %v, want [RS256]", d.SigningAlgs)
	}
	for _, c := range []string{"groups", "clearance"} {
		if !slices.Contains(d.Claims, c) {
			t.Errorf("claims_supported lacks %s", c)
		}
	}
	// go-oidc agrees (it checks the issuer).
	_ = idp.stack.Provider(t)
}

func TestClientCredentials(t *testing.T) {
	idp := startIDP(t, newTestPKI(t), "127.0.0.1:0", t.TempDir())
	s := idp.stack

	tests := []struct {
		client    string
		groups    []string
		clearance *string
	}{
		{devstack.ClientCLI, []string{devstack.GroupAdmin, devstack.GroupIngest}, ptr("TOP SECRET")},
		{devstack.ClientPeer, []string{devstack.GroupPeer}, ptr("TOP SECRET")},
		{devstack.ClientNoPerm, []string{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.client, func(t *testing.T) {
			raw := s.TokenForClient(t, tt.client)
			c := verifyAccess(t, s, raw)
			if c.Issuer != s.OIDCIssuer {
				t.Errorf("iss = %q", c.Issuer)
			}
			if c.Subject != tt.client || c.ClientID != tt.client || c.AZP != tt.client {
				t.Errorf("sub, client_id, azp = %q, %q, %q; want %q", c.Subject, c.ClientID, c.AZP, tt.client)
			}
			if !slices.Equal(c.Audience, []string{devstack.APIAudience}) {
				t.Errorf("aud = %v, want [%s]", c.Audience, devstack.APIAudience)
			}
			if c.Groups == nil || !slices.Equal(c.Groups, tt.groups) {
				t.Errorf("groups = %#v, want %#v", c.Groups, tt.groups)
			}
			if (c.Clearance == nil) != (tt.clearance == nil) || (c.Clearance != nil && *c.Clearance != *tt.clearance) {
				t.Errorf("clearance = %v, want %v", deref(c.Clearance), deref(tt.clearance))
			}
			if c.Expiry-c.IssuedAt != int64((15 * time.Minute).Seconds()) {
				t.Errorf("lifetime = %ds, want 900s", c.Expiry-c.IssuedAt)
			}
			if c.NotBefore == 0 || c.NotBefore > c.IssuedAt || c.JWTID == "" {
				t.Errorf("nbf = %d, iat = %d, jti = %q", c.NotBefore, c.IssuedAt, c.JWTID)
			}
			if kidOf(t, raw) == "" {
				t.Error("no kid")
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct{ name, client, secret string }{
			{"wrong secret", devstack.ClientCLI, "not-the-secret"},
			{"unknown client", "heimdall-nobody", "x"},
			{"public client", devstack.ClientWeb, ""},
			{"another client's secret", devstack.ClientPeer, s.ClientSecret(t, devstack.ClientCLI)},
		} {
			tok, err := s.ClientCredentials(t.Context(), tc.client, tc.secret)
			var rerr *oauth2.RetrieveError
			switch {
			case err == nil:
				t.Errorf("%s: got a token %q", tc.name, tok.AccessToken)
			case !errors.As(err, &rerr) || rerr.ErrorCode != "invalid_client" || rerr.Response.StatusCode != http.StatusUnauthorized:
				t.Errorf("%s: %v, want invalid_client (401)", tc.name, err)
			}
		}
	})
}

func TestCodeFlow(t *testing.T) {
	idp := startIDP(t, newTestPKI(t), "127.0.0.1:0", t.TempDir())
	s := idp.stack
	cfg := s.IDPConfig(t)

	for _, tt := range []struct {
		user      string
		groups    []string
		clearance string
	}{
		{devstack.UserAlice, []string{devstack.GroupAdmin}, "TOP SECRET"},
		{devstack.UserBob, []string{devstack.GroupAnalyst}, "CONFIDENTIAL"},
	} {
		t.Run(tt.user, func(t *testing.T) {
			u, _ := cfg.UserByName(tt.user)
			tok := s.UserLogin(t, tt.user, s.UserPassword(t, tt.user))
			c := verifyAccess(t, s, tok.AccessToken)
			if c.Subject != u.ID {
				t.Errorf("sub = %q, want the user's stable id %q", c.Subject, u.ID)
			}
			if !slices.Equal(c.Audience, []string{devstack.APIAudience}) {
				t.Errorf("aud = %v", c.Audience)
			}
			if c.AZP != devstack.ClientWeb || c.ClientID != devstack.ClientWeb {
				t.Errorf("azp, client_id = %q, %q", c.AZP, c.ClientID)
			}
			if !slices.Equal(c.Groups, tt.groups) || deref(c.Clearance) != tt.clearance {
				t.Errorf("groups, clearance = %v, %q; want %v, %q", c.Groups, deref(c.Clearance), tt.groups, tt.clearance)
			}

			// The ID token is for the client only: the API must refuse it.
			rawID, _ := tok.Extra("id_token").(string)
			ctx := s.ClientContext(t.Context())
			idTok, err := s.Provider(t).Verifier(&oidc.Config{ClientID: devstack.ClientWeb}).Verify(ctx, rawID)
			if err != nil {
				t.Fatalf("id token: %v", err)
			}
			var idc struct {
				Groups []string `json:"groups"`
			}
			if err := idTok.Claims(&idc); err != nil || !slices.Equal(idc.Groups, tt.groups) {
				t.Errorf("id token groups = %v (%v)", idc.Groups, err)
			}
			if _, err := s.Provider(t).Verifier(&oidc.Config{ClientID: devstack.APIAudience}).Verify(ctx, rawID); err == nil {
				t.Error("the API's verifier accepted an ID token")
			}

			// userinfo with the access token.
			info, err := s.Provider(t).UserInfo(ctx, oauth2StaticSource(tok.AccessToken))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			var ic struct {
				Username string   `json:"preferred_username"`
				Groups   []string `json:"groups"`
			}
			if err := info.Claims(&ic); err != nil {
				t.Fatal(err)
			}
			if info.Subject != u.ID || info.Email != u.Email || ic.Username != tt.user || !slices.Equal(ic.Groups, tt.groups) {
				t.Errorf("userinfo = %s %s %s %v", info.Subject, info.Email, ic.Username, ic.Groups)
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		if _, err := s.CodeFlow(t.Context(), devstack.UserAlice, "not-her-password"); err == nil {
			t.Fatal("logged in with a wrong password")
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		if _, err := s.CodeFlow(t.Context(), "mallory", "x"); err == nil {
			t.Fatal("logged in an unknown user")
		}
	})
}

// TestAuthorizeRequests checks the authorization endpoint's answers without
// a login: loopback redirect URIs on any port, PKCE required.
func TestAuthorizeRequests(t *testing.T) {
	idp := startIDP(t, newTestPKI(t), "127.0.0.1:0", t.TempDir())
	s := idp.stack
	client := s.HTTPClient()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	authorize := func(redirectURI string, pkce bool) *url.URL {
		t.Helper()
		q := url.Values{
			"client_id":     {devstack.ClientWeb},
			"response_type": {"code"},
			"scope":         {"openid"},
			"redirect_uri":  {redirectURI},
			"state":         {"xyz"},
		}
		if pkce {
			q.Set("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
			q.Set("code_challenge_method", "S256")
		}
		resp, err := client.Get(s.OIDCIssuer + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("authorize %s: %s without a redirect", redirectURI, resp.Status)
		}
		return loc
	}

	for _, uri := range []string{
		"http://127.0.0.1:51234/callback",
		"http://localhost:3000/callback",
		"https://localhost:8443/callback",
	} {
		if loc := authorize(uri, true); loc.Path != "/login/username" {
			t.Errorf("%s: redirected to %s, want the login form", uri, loc.Redacted())
		}
	}
	if loc := authorize("http://127.0.0.1:51234/callback", false); loc.Query().Get("error") != "invalid_request" {
		t.Errorf("without PKCE: redirected to %s, want error=invalid_request", loc.Redacted())
	}
	// An unregistered redirect URI gets an error page, never a redirect.
	q := url.Values{"client_id": {devstack.ClientWeb}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {"https://evil.example/callback"}}
	resp, err := client.Get(s.OIDCIssuer + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 == 3 {
		loc, _ := resp.Location()
		t.Errorf("unregistered redirect URI: redirected to %v", loc)
	}
}

func TestKeyRotation(t *testing.T) {
	idp := startIDP(t, newTestPKI(t), "127.0.0.1:0", t.TempDir())
	s := idp.stack

	before := s.TokenForClient(t, devstack.ClientCLI)
	verifyAccess(t, s, before)
	kidBefore := kidOf(t, before)

	kid := s.RotateProviderKeys(t)
	after := s.TokenForClient(t, devstack.ClientCLI)
	if got := kidOf(t, after); got != kid || got == kidBefore {
		t.Fatalf("kid after rotation = %q, rotation said %q, before %q", got, kid, kidBefore)
	}
	// One verifier (one cached key set) for both: the unknown kid makes
	// go-oidc refetch the JWKS, which still holds the old key.
	v := s.Provider(t).Verifier(&oidc.Config{ClientID: devstack.APIAudience})
	ctx := s.ClientContext(t.Context())
	for name, raw := range map[string]string{"new": after, "old": before} {
		if _, err := v.Verify(ctx, raw); err != nil {
			t.Errorf("%s token: %v", name, err)
		}
	}
	// Users' tokens are signed by the new key too.
	if got := kidOf(t, s.TokenForUser(t, devstack.UserCarol)); got != kid {
		t.Errorf("user token kid = %q, want %q", got, kid)
	}

	// The JWKS publishes both.
	resp, err := s.HTTPClient().Get(s.OIDCIssuer + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var jwks jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil {
		t.Fatal(err)
	}
	if len(jwks.Key(kid)) != 1 || len(jwks.Key(kidBefore)) != 1 {
		t.Errorf("jwks has %d keys; new %d, old %d", len(jwks.Keys), len(jwks.Key(kid)), len(jwks.Key(kidBefore)))
	}
	for _, k := range jwks.Keys {
		if !k.IsPublic() {
			t.Errorf("jwks key %s is not public", k.KeyID)
		}
	}

	t.Run("admin token required", func(t *testing.T) {
		for _, auth := range []string{"", "Bearer wrong-token-wrong-token", "Basic " + s.IDPConfig(t).AdminToken} {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.OIDCIssuer+devstack.RotateKeysPath, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := s.HTTPClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("Authorization %q: %s, want 401", auth, resp.Status)
			}
		}
		if got := kidOf(t, s.TokenForClient(t, devstack.ClientCLI)); got != kid {
			t.Errorf("refused rotations changed the key: %s", got)
		}
	})
}

// TestRestartKeepsKeys restarts the provider on the same address and state
// directory: tokens issued before still verify, new ones use the same key.
func TestRestartKeepsKeys(t *testing.T) {
	pki := newTestPKI(t)
	state := t.TempDir()
	first := startIDP(t, pki, "127.0.0.1:0", state)
	before := first.stack.TokenForClient(t, devstack.ClientCLI)
	first.stop()

	second := startIDP(t, pki, first.addr, state)
	if second.stack.OIDCIssuer != first.stack.OIDCIssuer {
		t.Fatalf("issuer changed: %s -> %s", first.stack.OIDCIssuer, second.stack.OIDCIssuer)
	}
	verifyAccess(t, second.stack, before)
	if a, b := kidOf(t, before), kidOf(t, second.stack.TokenForClient(t, devstack.ClientCLI)); a != b {
		t.Errorf("kid changed across restart: %s -> %s", a, b)
	}
	info, err := os.Stat(filepath.Join(state, "signing-keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("signing-keys.json mode = %v, want 0600", info.Mode().Perm())
	}
}

func TestTLS(t *testing.T) {
	pki := newTestPKI(t)
	idp := startIDP(t, pki, "127.0.0.1:0", t.TempDir())
	roots := idp.stack.TLSConfig().RootCAs

	t.Run("TLS 1.2 refused", func(t *testing.T) {
		conn, err := tls.Dial("tcp", idp.addr, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12})
		if err == nil {
			conn.Close()
			t.Fatal("TLS 1.2 handshake succeeded")
		}
		var alert tls.AlertError
		if !errors.As(err, &alert) {
			t.Logf("handshake error: %v", err)
		}
	})
	t.Run("TLS 1.3 accepted", func(t *testing.T) {
		conn, err := tls.Dial("tcp", idp.addr, &tls.Config{RootCAs: roots, ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if v := conn.ConnectionState().Version; v != tls.VersionTLS13 {
			t.Errorf("version = %x", v)
		}
	})
	t.Run("plaintext refused", func(t *testing.T) {
		resp, err := http.Get("http://" + idp.addr + "/.well-known/openid-configuration")
		if err != nil {
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(body), "issuer") {
			t.Fatalf("plaintext request served: %s", resp.Status)
		}
	})
	t.Run("untrusted client config refused", func(t *testing.T) {
		// A client without the dev CA does not trust the provider.
		conn, err := tls.Dial("tcp", idp.addr, &tls.Config{RootCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS13})
		if err == nil {
			conn.Close()
			t.Fatal("handshake succeeded without the CA")
		}
	})
}

func TestFlags(t *testing.T) {
	if _, err := parseFlags([]string{"-addr", "127.0.0.1:0"}, io.Discard); err == nil {
		t.Error("no -cert/-key accepted")
	}
	o, err := parseFlags([]string{"-cert", "c", "-key", "k"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.addr != "127.0.0.1:58443" || o.issuer != "https://localhost:58443" || o.config != "deploy/idp/config.yaml" {
		t.Errorf("defaults: %+v", o)
	}
	if err := run(t.Context(), []string{"-cert", "missing.crt", "-key", "missing.key", "-addr", "127.0.0.1:0", "-config", "config.yaml"}, io.Discard); err == nil {
		t.Error("run started without a certificate")
	}
}

func oauth2StaticSource(accessToken string) oauth2.TokenSource {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessToken, TokenType: "Bearer"})
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}
