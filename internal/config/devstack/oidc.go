package devstack

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// flowTimeout bounds one token flow.
const flowTimeout = 30 * time.Second

// ClientCredentialsToken gets an access token for a confidential client
// with the client_credentials grant. The provider gives these tokens the
// audience heimdall-api without any scope or resource parameter.
func (s Stack) ClientCredentialsToken(t testing.TB, clientID, secret string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
	defer cancel()
	tok, err := s.ClientCredentials(ctx, clientID, secret)
	if err != nil {
		t.Fatalf("client_credentials token for %s: %v", clientID, err)
	}
	return tok.AccessToken
}

// TokenForClient is ClientCredentialsToken with the client's secret from the
// provider configuration.
func (s Stack) TokenForClient(t testing.TB, clientID string) string {
	t.Helper()
	return s.ClientCredentialsToken(t, clientID, s.ClientSecret(t, clientID))
}

// ClientCredentials runs the client_credentials grant and returns the
// provider's answer (or its error, for negative tests).
func (s Stack) ClientCredentials(ctx context.Context, clientID, secret string) (*oauth2.Token, error) {
	provider, err := s.discover(ctx)
	if err != nil {
		return nil, err
	}
	cc := clientcredentials.Config{
		ClientID:     clientID,
		ClientSecret: secret,
		TokenURL:     provider.Endpoint().TokenURL,
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	return cc.Token(s.clientContext(ctx))
}

// UserToken logs user in through the provider's real authorization code
// flow with PKCE, as client heimdall-web, and returns the access token.
func (s Stack) UserToken(t testing.TB, user, password string) string {
	t.Helper()
	return s.UserLogin(t, user, password).AccessToken
}

// TokenForUser is UserToken with the user's password from the provider
// configuration.
func (s Stack) TokenForUser(t testing.TB, user string) string {
	t.Helper()
	return s.UserToken(t, user, s.UserPassword(t, user))
}

// UserLogin is UserToken returning the whole token response; its ID token
// (Extra("id_token")) has been verified, nonce included.
func (s Stack) UserLogin(t testing.TB, user, password string) *oauth2.Token {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
	defer cancel()
	tok, err := s.CodeFlow(ctx, user, password)
	if err != nil {
		t.Fatalf("code flow for %s: %v", user, err)
	}
	return tok
}

// CodeFlow drives the authorization code flow with PKCE over HTTPS, like a
// browser with a cookie jar (see SignIn), as client heimdall-web with
// redirect URI WebRedirectURI: it reads the code from the provider's
// redirect instead of following it, exchanges the code (with the PKCE
// verifier) for tokens, and verifies the ID token and its nonce.
func (s Stack) CodeFlow(ctx context.Context, user, password string) (*oauth2.Token, error) {
	provider, err := s.discover(ctx)
	if err != nil {
		return nil, err
	}
	endpoint := provider.Endpoint()
	endpoint.AuthStyle = oauth2.AuthStyleInParams // public client: client_id in the form
	conf := oauth2.Config{
		ClientID:    ClientWeb,
		Endpoint:    endpoint,
		RedirectURL: WebRedirectURI,
		Scopes:      []string{oidc.ScopeOpenID, "profile"},
	}
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	loc, err := s.SignIn(ctx, authURL, user, password)
	if err != nil {
		return nil, err
	}
	want, _ := url.Parse(WebRedirectURI)
	if loc.Scheme != want.Scheme || loc.Hostname() != want.Hostname() || loc.Path != want.Path {
		return nil, fmt.Errorf("login: redirected to %s, want the client's %s", loc.Redacted(), WebRedirectURI)
	}
	q := loc.Query()
	if e := q.Get("error"); e != "" {
		return nil, fmt.Errorf("authorization error %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != state {
		return nil, errors.New("authorization response: state mismatch")
	}
	code := q.Get("code")
	if code == "" {
		return nil, errors.New("authorization response: no code")
	}

	// 4. Exchange the code.
	tok, err := conf.Exchange(s.clientContext(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("code exchange: %w", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return nil, errors.New("code exchange: no id_token")
	}
	idToken, err := provider.Verifier(&oidc.Config{ClientID: ClientWeb}).Verify(ctx, rawID)
	if err != nil {
		return nil, fmt.Errorf("id token: %w", err)
	}
	if idToken.Nonce != nonce {
		return nil, errors.New("id token: nonce mismatch")
	}
	return tok, nil
}

// SignIn does in the provider what a person does in a browser: it opens
// authURL (an authorization request of any client) with a fresh cookie
// jar, fills in the login form and submits it, and follows the provider's
// redirects until one leaves the provider. It returns that redirect's
// target (the client's redirect URI with code and state) without
// following it.
func (s Stack) SignIn(ctx context.Context, authURL, user, password string) (*url.URL, error) {
	issuer, err := url.Parse(s.OIDCIssuer)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	browser := &http.Client{
		Transport: s.transport(),
		Jar:       jar,
		Timeout:   flowTimeout,
		// Follow redirects within the provider only: the last one goes to
		// the client's redirect URI, which the caller handles.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Scheme != issuer.Scheme || req.URL.Host != issuer.Host {
				return http.ErrUseLastResponse
			}
			if len(via) >= 10 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}

	// 1. Authorization request: the provider shows its login form.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := browser.Do(req)
	if err != nil {
		return nil, fmt.Errorf("authorization request: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		if loc, err := resp.Location(); err == nil && loc.Query().Get("error") != "" {
			resp.Body.Close()
			return nil, fmt.Errorf("authorization request: error %s: %s", loc.Query().Get("error"), loc.Query().Get("error_description"))
		}
		return nil, fmt.Errorf("authorization request: %s", describe(resp))
	}
	form, err := parseForm(resp)
	if err != nil {
		return nil, err
	}

	// 2. Log in.
	form.values.Set("username", user)
	form.values.Set("password", password)
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, form.action, strings.NewReader(form.values.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = browser.Do(req)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
		// Keycloak answers a failed login with its form again.
		resp.Body.Close()
		return nil, errors.New("login: invalid username or password (or the account is locked)")
	}
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("login: %s", describe(resp))
	}
	resp.Body.Close()

	// 3. The provider redirected out of itself, to the client.
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("login: redirect: %w", err)
	}
	return loc, nil
}

// Provider returns the go-oidc provider of the stack's issuer (discovery
// done), for verifiers: Provider(t).Verifier(&oidc.Config{ClientID: APIAudience}).
func (s Stack) Provider(t testing.TB) *oidc.Provider {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
	defer cancel()
	p, err := s.discover(ctx)
	if err != nil {
		t.Fatalf("development stack: %v; %s", err, stackUpHint)
	}
	return p
}

// ClientContext returns ctx carrying the stack's HTTPS client for go-oidc
// and x/oauth2 (whose key sets keep using it after ctx ends).
func (s Stack) ClientContext(ctx context.Context) context.Context {
	return s.clientContext(ctx)
}

func (s Stack) clientContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, s.HTTPClient())
}

func (s Stack) discover(ctx context.Context) (*oidc.Provider, error) {
	if s.OIDCIssuer == "" {
		return nil, errors.New("no OIDC issuer")
	}
	// The provider keeps the client from this context for its key set, so
	// the context must not be the (short-lived) ctx for that part.
	p, err := oidc.NewProvider(oidc.ClientContext(context.WithoutCancel(ctx), s.HTTPClient()), s.OIDCIssuer)
	if err != nil {
		return nil, fmt.Errorf("oidc discovery at %s: %w", s.OIDCIssuer, err)
	}
	return p, nil
}

type htmlForm struct {
	action string
	values url.Values
}

// parseForm reads the first form of an HTML page: its action (resolved
// against the page URL) and its named inputs.
func parseForm(resp *http.Response) (htmlForm, error) {
	defer resp.Body.Close()
	doc, err := html.Parse(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return htmlForm{}, fmt.Errorf("login page: %w", err)
	}
	var form *html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "form" {
			form = n
			break
		}
	}
	if form == nil {
		return htmlForm{}, errors.New("login page: no form")
	}
	out := htmlForm{values: url.Values{}}
	action, err := resp.Request.URL.Parse(attr(form, "action"))
	if err != nil {
		return htmlForm{}, fmt.Errorf("login page: form action: %w", err)
	}
	out.action = action.String()
	for n := range form.Descendants() {
		if n.Type == html.ElementNode && n.Data == "input" {
			if name := attr(n, "name"); name != "" {
				out.values.Set(name, attr(n, "value"))
			}
		}
	}
	return out, nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// describe summarises an unexpected response (status and a short body).
func describe(resp *http.Response) string {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	text := strings.Join(strings.Fields(string(body)), " ")
	return fmt.Sprintf("%s %s: %s", resp.Request.Method, resp.Status, text)
}
