package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestShippedConfig(t *testing.T) {
	cfg, err := Load("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.APIAudience != "heimdall-api" || cfg.AccessTokenLifetime != 15*time.Minute || cfg.SigningAlgorithm != AlgRS256 {
		t.Errorf("audience, lifetime, alg = %q, %v, %q", cfg.APIAudience, cfg.AccessTokenLifetime, cfg.SigningAlgorithm)
	}
	for _, id := range []string{"heimdall-web", "heimdall-cli", "heimdall-peer", "heimdall-noperm"} {
		c, ok := cfg.Client(id)
		if !ok {
			t.Errorf("client %s missing", id)
			continue
		}
		if len(c.Audience) != 1 || c.Audience[0] != "heimdall-api" {
			t.Errorf("client %s audience = %v", id, c.Audience)
		}
	}
	if web, _ := cfg.Client("heimdall-web"); web.Secret != "" || !web.HasGrant(GrantAuthorizationCode) {
		t.Error("heimdall-web must be a public code-flow client")
	}
	if np, _ := cfg.Client("heimdall-noperm"); len(np.Groups) != 0 || np.Clearance != "" {
		t.Error("heimdall-noperm must have no groups and no clearance")
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		if _, ok := cfg.UserByName(u); !ok {
			t.Errorf("user %s missing", u)
		}
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Parse([]byte("clients: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AccessTokenLifetime != DefaultAccessTokenLifetime || cfg.IDTokenLifetime != DefaultAccessTokenLifetime ||
		cfg.RefreshTokenLifetime != DefaultRefreshTokenLifetime || cfg.APIAudience != DefaultAPIAudience {
		t.Errorf("defaults: %+v", cfg)
	}
	if got := cfg.KeyRetention(); got != 20*time.Minute {
		t.Errorf("KeyRetention = %v", got)
	}
}

func TestValidate(t *testing.T) {
	bad := `
signing_algorithm: HS256
admin_token: short
clients:
  - id: a
    grant_types: [client_credentials, password]
  - id: a
    grant_types: [refresh_token]
  - id: b
    secret: s
    grant_types: [authorization_code]
    redirect_uris: [/relative]
users:
  - id: b
    username: u
  - id: x
    username: u
    password: p
`
	_, err := Parse([]byte(bad))
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{
		"signing_algorithm", "admin_token", `unknown grant type "password"`, "client_credentials needs a secret",
		"duplicate id", "refresh_token needs authorization_code", "must be absolute", "also a client id",
		"password is empty", "duplicate username",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestUnknownKey(t *testing.T) {
	if _, err := Parse([]byte("clients: []\naccess_token_lifetme: 5m\n")); err == nil {
		t.Fatal("misspelt key accepted")
	}
}

func TestLoadMissing(t *testing.T) {
	if _, err := Load(t.TempDir() + "/none.yaml"); !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("err = %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
