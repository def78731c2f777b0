package devstack

import (
	"crypto/rand"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
)

// TestRunningStack checks the running development stack's provider: `make
// stack-up` first. It fails (never skips) when the stack is not up, except
// under -short.
func TestRunningStack(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs `make stack-up` (skipped with -short)")
	}
	s := Env(t)
	verify := s.Provider(t).Verifier(&oidc.Config{ClientID: APIAudience}).Verify
	ctx := s.ClientContext(t.Context())

	var claims struct {
		AZP    string   `json:"azp"`
		Groups []string `json:"groups"`
		Roles  struct {
			Roles []string `json:"roles"`
		} `json:"realm_access"`
		Clearance string `json:"clearance"`
	}
	tok, err := verify(ctx, s.TokenForClient(t, ClientCLI))
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Claims(&claims); err != nil || tok.Subject == "" || claims.AZP != ClientCLI ||
		!slices.Contains(claims.Groups, GroupAdmin) || !slices.Contains(claims.Roles.Roles, GroupAdmin) {
		t.Errorf("heimdall-cli token: sub %s, claims %+v (%v)", tok.Subject, claims, err)
	}

	tok, err = verify(ctx, s.TokenForUser(t, UserAlice))
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Claims(&claims); err != nil || !slices.Equal(claims.Groups, []string{GroupAdmin}) || claims.Clearance != "TOP SECRET" {
		t.Errorf("alice token: claims %+v (%v)", claims, err)
	}

	// Every confidential client of the realm has its generated secret in
	// the credentials file, and gets a token with it.
	for id := range s.Credentials(t).Clients {
		if _, err := verify(ctx, s.TokenForClient(t, id)); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	// A wrong secret is refused.
	if _, err := s.ClientCredentials(t.Context(), ClientCLI, "not-the-secret"); err == nil {
		t.Error("a wrong client secret got a token")
	}
}

// TestBruteForceLocksAccount: the realm's brute-force detection is on. A
// user created for the test (so no development user is locked) signs in;
// after ten wrong passwords even the right one is refused.
func TestBruteForceLocksAccount(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs `make stack-up` (skipped with -short)")
	}
	s := Env(t)
	admin := s.Admin(t)
	name, password := "bruteforce-"+strings.ToLower(rand.Text()[:8]), rand.Text()
	_, loc := admin.Do(t, http.MethodPost, "/users", map[string]any{
		"username": name, "enabled": true, "email": name + "@heimdall.test", "emailVerified": true,
		"firstName": "Brute", "lastName": "Force",
		"credentials": []map[string]any{{"type": "password", "value": password, "temporary": false}},
	}, nil)
	id := loc[strings.LastIndex(loc, "/")+1:]
	t.Cleanup(func() { admin.Do(t, http.MethodDelete, "/users/"+id, nil, nil) })

	if _, err := s.CodeFlow(t.Context(), name, password); err != nil {
		t.Fatalf("the new user cannot sign in: %v", err)
	}
	for i := range 10 {
		if _, err := s.CodeFlow(t.Context(), name, "wrong-"+rand.Text()); err == nil {
			t.Fatalf("wrong password %d signed in", i)
		}
	}
	if _, err := s.CodeFlow(t.Context(), name, password); err == nil {
		t.Fatal("after ten wrong passwords the right one still signs in: brute-force detection is off")
	}
	var status map[string]any
	admin.Do(t, http.MethodGet, "/attack-detection/brute-force/users/"+id, nil, &status)
	if status["disabled"] != true {
		t.Errorf("Keycloak's brute-force status of the user: %v", status)
	}
}
