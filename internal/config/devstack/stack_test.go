package devstack

import (
	"slices"
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
		Groups    []string `json:"groups"`
		Clearance string   `json:"clearance"`
	}
	tok, err := verify(ctx, s.TokenForClient(t, ClientCLI))
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Claims(&claims); err != nil || tok.Subject != ClientCLI || !slices.Contains(claims.Groups, GroupAdmin) {
		t.Errorf("heimdall-cli token: sub %s, claims %+v (%v)", tok.Subject, claims, err)
	}

	tok, err = verify(ctx, s.TokenForUser(t, UserAlice))
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Claims(&claims); err != nil || !slices.Equal(claims.Groups, []string{GroupAdmin}) || claims.Clearance != "TOP SECRET" {
		t.Errorf("alice token: claims %+v (%v)", claims, err)
	}
}
