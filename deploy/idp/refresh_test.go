package main

import (
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"

	"github.com/heimdallhub/heimdall/internal/config/devstack"
)

// authorizationCode logs user in with the given scopes and returns the code.
func authorizationCode(t *testing.T, s devstack.Stack, conf oauth2.Config, user, verifier string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := s.HTTPClient()
	browser.Jar = jar
	browser.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), s.OIDCIssuer+"/") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := browser.Get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login page: %s %v", resp.Status, err)
	}
	form := url.Values{}
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "input" {
			var name, value string
			for _, a := range n.Attr {
				switch a.Key {
				case "name":
					name = a.Val
				case "value":
					value = a.Val
				}
			}
			form.Set(name, value)
		}
	}
	form.Set("username", user)
	form.Set("password", s.UserPassword(t, user))
	resp, err = browser.PostForm(s.OIDCIssuer+"/login/username", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("login: %s", resp.Status)
	}
	code := loc.Query().Get("code")
	if code == "" || loc.Query().Get("state") != "st" {
		t.Fatalf("login redirected to %s", loc.Redacted())
	}
	return code
}

func TestCodeReplayAndRefresh(t *testing.T) {
	idp := startIDP(t, newTestPKI(t), "127.0.0.1:0", t.TempDir())
	s := idp.stack
	provider := s.Provider(t)
	endpoint := provider.Endpoint()
	endpoint.AuthStyle = oauth2.AuthStyleInParams
	conf := oauth2.Config{
		ClientID:    devstack.ClientWeb,
		Endpoint:    endpoint,
		RedirectURL: "http://localhost:43210/callback",
		Scopes:      []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess},
	}
	ctx := s.ClientContext(t.Context())
	verifier := oauth2.GenerateVerifier()
	code := authorizationCode(t, s, conf, devstack.UserCarol, verifier)

	// A wrong verifier is refused; that does not burn the code.
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Fatal("code exchanged with a wrong PKCE verifier")
	}
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}
	var rerr *oauth2.RetrieveError
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); !errors.As(err, &rerr) || rerr.ErrorCode != "invalid_grant" {
		t.Fatalf("code replay: %v, want invalid_grant", err)
	}

	// Refresh: a new access token for the API, a new ID token for the client.
	refreshed, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if refreshed.AccessToken == tok.AccessToken || refreshed.RefreshToken == tok.RefreshToken {
		t.Fatal("refresh returned the old tokens")
	}
	c := verifyAccess(t, s, refreshed.AccessToken)
	if !slices.Equal(c.Groups, []string{devstack.GroupIngest}) || deref(c.Clearance) != "UNCLASSIFIED" {
		t.Errorf("refreshed claims: %v %s", c.Groups, deref(c.Clearance))
	}
	rawID, _ := refreshed.Extra("id_token").(string)
	idTok, err := provider.Verifier(&oidc.Config{ClientID: devstack.ClientWeb}).Verify(ctx, rawID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(idTok.Audience, []string{devstack.ClientWeb}) {
		t.Errorf("refreshed id token aud = %v", idTok.Audience)
	}
	// Refresh tokens rotate: the old one is spent.
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("spent refresh token accepted")
	}
}
