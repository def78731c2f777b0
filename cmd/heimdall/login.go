package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/heimdallhub/heimdall/internal/config"
	"github.com/heimdallhub/heimdall/internal/rbac"
	"github.com/heimdallhub/heimdall/internal/tlsconf"
)

// loginPage is what the browser shows once the provider has redirected
// back: nothing from the request is echoed.
const loginPage = `<!doctype html><meta charset="utf-8"><title>Heimdall</title>
<p>%s You can close this tab and return to the terminal.</p>`

// runLogin signs a person in with the authorization code flow and PKCE
// (S256) as the public client HEIMDALL_LOGIN_CLIENT_ID, on a loopback
// redirect (RFC 8252): it listens on 127.0.0.1 on a free port, prints the
// provider's login address, waits for the redirect, exchanges the code,
// checks the ID token's nonce and the access token's audience, and prints
// the access token on stdout (a summary of who signed in goes to stderr).
func runLogin(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) error {
	fs := flag.NewFlagSet("login", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for the browser")
	open := fs.Bool("open", false, "open the login address with xdg-open")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: login takes no arguments", errUsage)
	}
	cfg, err := config.LoadLogin(lookup)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	tlsCfg, err := tlsconf.Client(cfg.CAFile)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true}, Timeout: 30 * time.Second}
	octx := oidc.ClientContext(ctx, hc)
	dctx, cancel := context.WithTimeout(octx, 15*time.Second)
	provider, err := oidc.NewProvider(dctx, cfg.Issuer)
	cancel()
	if err != nil {
		return fmt.Errorf("discovering the OIDC provider: %w", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening for the provider's redirect: %w", err)
	}
	defer ln.Close()
	endpoint := provider.Endpoint()
	endpoint.AuthStyle = oauth2.AuthStyleInParams // a public client: client_id in the form
	conf := oauth2.Config{
		ClientID:    cfg.ClientID,
		Endpoint:    endpoint,
		RedirectURL: fmt.Sprintf("http://%s/callback", ln.Addr()),
		Scopes:      []string{oidc.ScopeOpenID, "profile"},
	}
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))

	codes := make(chan callback, 1)
	srv := &http.Server{
		Handler:           callbackHandler(state, codes),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	fmt.Fprintf(stderr, "Open this address in a browser and sign in:\n\n  %s\n\nWaiting up to %s for the provider to redirect to %s\n", authURL, *timeout, conf.RedirectURL)
	if *open {
		if err := exec.CommandContext(ctx, "xdg-open", authURL).Start(); err != nil {
			fmt.Fprintf(stderr, "xdg-open: %v (open the address by hand)\n", err)
		}
	}
	var cb callback
	select {
	case cb = <-codes:
	case <-time.After(*timeout):
		return fmt.Errorf("no sign-in within %s", *timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
	if cb.err != nil {
		return cb.err
	}

	ectx, cancel := context.WithTimeout(octx, 30*time.Second)
	defer cancel()
	tok, err := conf.Exchange(ectx, cb.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return fmt.Errorf("exchanging the code: %w", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return errors.New("the provider returned no ID token")
	}
	idToken, err := provider.Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(ectx, rawID)
	if err != nil {
		return fmt.Errorf("verifying the ID token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idToken.Nonce), []byte(nonce)) != 1 {
		return errors.New("the ID token's nonce is not this login's")
	}
	access, err := provider.Verifier(&oidc.Config{ClientID: cfg.Audience}).Verify(ectx, tok.AccessToken)
	if err != nil {
		return fmt.Errorf("the access token is not one the API accepts (audience %s): %w", cfg.Audience, err)
	}
	var who struct {
		Username string `json:"preferred_username"`
	}
	_ = idToken.Claims(&who)
	var claims map[string]any
	_ = access.Claims(&claims)
	fmt.Fprintln(stderr, loginSummary(cmp.Or(who.Username, access.Subject), claims, cfg, time.Until(access.Expiry)))
	_, err = fmt.Fprintln(stdout, tok.AccessToken)
	return err
}

// loginSummary says who signed in, with the roles and clearance the API
// will read from the token.
func loginSummary(who string, claims map[string]any, cfg config.Login, valid time.Duration) string {
	var roles []string
	for _, path := range cfg.RoleClaims {
		if v, ok := rbac.Lookup(claims, path); ok {
			for _, r := range rbac.StringValues(v) {
				if !slices.Contains(roles, r) {
					roles = append(roles, r)
				}
			}
		}
	}
	clearance := "none"
	if v, ok := rbac.Lookup(claims, cfg.ClearanceClaim); ok {
		if vals := rbac.StringValues(v); len(vals) == 1 {
			clearance = vals[0]
		}
	}
	r := "none"
	if len(roles) > 0 {
		r = strings.Join(roles, ", ")
	}
	return fmt.Sprintf("signed in as %s; roles: %s; clearance: %s; the token is valid for %s", who, r, clearance, valid.Round(time.Second))
}

// callback is what the redirect brought: a code, or why there is none.
type callback struct {
	code string
	err  error
}

// callbackHandler takes the first redirect to /callback whose state is
// this login's; other paths get 404, a wrong state 400 (and the login
// goes on waiting). The provider's error is reported without its
// description (it may quote the request).
func callbackHandler(state string, out chan<- callback) http.Handler {
	var once sync.Once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			http.Error(w, "this is not the sign-in this terminal is waiting for", http.StatusBadRequest)
			return
		}
		cb := callback{code: q.Get("code")}
		msg := "Signed in to Heimdall."
		switch e := q.Get("error"); {
		case e != "":
			cb = callback{err: fmt.Errorf("the provider refused the sign-in: %s", oauthError(e))}
			msg = "The sign-in failed."
		case cb.code == "":
			cb = callback{err: errors.New("the provider's redirect carries no code")}
			msg = "The sign-in failed."
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		fmt.Fprintf(w, loginPage, msg)
		once.Do(func() { out <- cb })
	})
}

// oauthError keeps an OAuth error code only if it is one (RFC 6749 §4.1.2.1:
// printable ASCII without quotes or backslashes, here at most 64 bytes).
func oauthError(e string) string {
	if len(e) > 64 {
		return "invalid error code"
	}
	for i := 0; i < len(e); i++ {
		if c := e[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "invalid error code"
		}
	}
	return e
}
