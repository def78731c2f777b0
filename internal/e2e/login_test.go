package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/heimdallhub/heimdall/internal/config/devstack"
)

// TestLoginWithKeycloak signs development users in with `heimdall login`
// as a person would: the built binary prints Keycloak's login address and
// waits on a loopback redirect; the test plays the browser (opens the
// address, fills in Keycloak's login form, follows the redirect back to
// the CLI); the CLI exchanges the code with its PKCE verifier and prints
// the access token. The token's claims map to the user's roles and
// clearance at the API: bob (analyst, CONFIDENTIAL) reads but may not
// ingest, carol (ingest only) may ingest but not read, erin (no group)
// may do neither. A wrong password and a redirect with another login's
// state get no token.
func TestLoginWithKeycloak(t *testing.T) {
	requireStack(t)
	in := newInstance(t)
	in.serve("api", nil)
	st := in.st

	for _, tc := range []struct {
		user             string
		summary          string
		canRead, canPost bool
	}{
		{devstack.UserBob, "roles: heimdall-analyst; clearance: CONFIDENTIAL", true, false},
		{devstack.UserDana, "roles: heimdall-analyst; clearance: SECRET", true, false},
		{devstack.UserCarol, "roles: heimdall-ingest; clearance: UNCLASSIFIED", false, true},
		{devstack.UserErin, "roles: none; clearance: none", false, false},
	} {
		t.Run(tc.user, func(t *testing.T) {
			lg := startLogin(t, in)
			loc, err := st.SignIn(t.Context(), lg.authURL, tc.user, st.UserPassword(t, tc.user))
			if err != nil {
				t.Fatal(err)
			}
			if loc.Host != lg.redirect.Host || loc.Path != "/callback" {
				t.Fatalf("Keycloak redirected to %s, want the CLI's %s", loc.Redacted(), lg.redirect)
			}
			// A redirect that carries another login's state is refused, and
			// the CLI goes on waiting for its own.
			forged := *loc
			q := forged.Query()
			q.Set("state", "not-this-login")
			forged.RawQuery = q.Encode()
			if code := browserGet(t, forged.String()); code != http.StatusBadRequest {
				t.Errorf("redirect with a foreign state: %d, want 400", code)
			}
			if code := browserGet(t, loc.String()); code != http.StatusOK {
				t.Fatalf("redirect back to the CLI: %d", code)
			}
			token, stderr := lg.wait(t)
			if !strings.Contains(stderr, "signed in as "+tc.user+"; "+tc.summary) {
				t.Errorf("summary: %s", stderr)
			}
			if code := apiStatus(t, in, http.MethodGet, "/v1/entities/ipv4-addr--00000000-0000-5000-8000-000000000000", token, ""); (code == http.StatusNotFound) != tc.canRead {
				t.Errorf("read as %s: %d", tc.user, code)
			}
			if code := apiStatus(t, in, http.MethodPost, "/v1/ingest?format=ndjson&source=login", token, `{"src_ip":"192.0.2.1","dst_ip":"192.0.2.2"}`+"\n"); (code == http.StatusOK) != tc.canPost {
				t.Errorf("ingest as %s: %d", tc.user, code)
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		lg := startLogin(t, in)
		if _, err := st.SignIn(t.Context(), lg.authURL, devstack.UserBob, "not-bobs-password"); err == nil {
			t.Fatal("a wrong password signed in")
		}
		lg.cancel()
		if err := lg.cmd.Wait(); err == nil {
			t.Error("heimdall login exited 0 without a sign-in")
		}
	})
}

// login is one running `heimdall login`.
type login struct {
	cmd      *exec.Cmd
	cancel   context.CancelFunc
	authURL  string
	redirect *url.URL
	stdout   *bytes.Buffer
	stderr   *bytes.Buffer
}

// startLogin runs `heimdall login` and reads the login address and the
// loopback redirect URI from what it prints.
func startLogin(t *testing.T, in *instance) *login {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, heimdallBinary(t), "login", "-timeout", "90s")
	cmd.Env = append(os.Environ(), "HEIMDALL_OIDC_ISSUER="+in.st.OIDCIssuer, "HEIMDALL_CA_FILE="+in.st.CAFile)
	lg := &login{cmd: cmd, cancel: cancel, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	cmd.Stdout = lg.stdout
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		lg.stderr.WriteString(line + "\n")
		if strings.HasPrefix(line, in.st.OIDCIssuer+"/protocol/openid-connect/auth?") {
			lg.authURL = line
		}
		if i := strings.Index(line, "redirect to http://127.0.0.1:"); i >= 0 {
			u, err := url.Parse(strings.TrimSpace(line[i+len("redirect to "):]))
			if err != nil {
				t.Fatal(err)
			}
			lg.redirect = u
			break
		}
	}
	go func() {
		for sc.Scan() {
			lg.stderr.WriteString(sc.Text() + "\n")
		}
	}()
	t.Cleanup(func() { pw.Close() })
	if lg.authURL == "" || lg.redirect == nil {
		t.Fatalf("heimdall login printed no login address and redirect:\n%s", lg.stderr)
	}
	au, err := url.Parse(lg.authURL)
	if err != nil {
		t.Fatal(err)
	}
	q := au.Query()
	if q.Get("client_id") != devstack.ClientWeb || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" ||
		q.Get("redirect_uri") != lg.redirect.String() || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Fatalf("authorization request %s is not code + PKCE (S256) with nonce and state for %s", au.Redacted(), devstack.ClientWeb)
	}
	return lg
}

// wait waits for the CLI to exit 0 and returns the token it printed and
// what it said on stderr.
func (lg *login) wait(t *testing.T) (string, string) {
	t.Helper()
	if err := lg.cmd.Wait(); err != nil {
		t.Fatalf("heimdall login: %v\n%s", err, lg.stderr)
	}
	token := strings.TrimSpace(lg.stdout.String())
	if strings.Count(token, ".") != 2 {
		t.Fatalf("heimdall login printed %q, not a JWT", token)
	}
	return token, lg.stderr.String()
}

// browserGet follows a redirect to the CLI's loopback listener, as the
// browser does (plain HTTP on 127.0.0.1, RFC 8252).
func browserGet(t *testing.T, u string) int {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// apiStatus sends one request to the instance's API with token.
func apiStatus(t *testing.T, in *instance, method, path, token, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, "https://"+in.addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	resp, err := in.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
