// Package config reads and validates the development OpenID Provider's
// configuration file (deploy/idp/config.yaml): its clients, its users, the
// claims it puts in tokens, token lifetimes and the admin secret.
//
// The file holds plaintext secrets and passwords. It is for development and
// tests only.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"time"

	"gopkg.in/yaml.v3"
)

// Grant types a client may be given.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// Signing algorithms the provider can sign with.
const (
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
)

// Defaults applied by SetDefaults.
const (
	DefaultAPIAudience          = "heimdall-api"
	DefaultAccessTokenLifetime  = 15 * time.Minute
	DefaultRefreshTokenLifetime = 8 * time.Hour
	DefaultAuthRequestLifetime  = 10 * time.Minute
	DefaultSigningAlgorithm     = AlgRS256
)

// Config is the provider's configuration file.
type Config struct {
	// APIAudience is the audience of every access token unless a client
	// names its own (default "heimdall-api").
	APIAudience string `yaml:"api_audience"`
	// AccessTokenLifetime is how long access tokens are valid (default 15m).
	AccessTokenLifetime time.Duration `yaml:"access_token_lifetime"`
	// IDTokenLifetime is how long ID tokens are valid (default: the access
	// token lifetime).
	IDTokenLifetime time.Duration `yaml:"id_token_lifetime"`
	// RefreshTokenLifetime is how long refresh tokens are valid (default 8h).
	RefreshTokenLifetime time.Duration `yaml:"refresh_token_lifetime"`
	// AuthRequestLifetime is how long a user has to log in (default 10m).
	AuthRequestLifetime time.Duration `yaml:"auth_request_lifetime"`
	// SigningAlgorithm is the algorithm of newly generated signing keys:
	// RS256 (default) or ES256.
	SigningAlgorithm string `yaml:"signing_algorithm"`
	// AdminToken is the bearer secret of the admin endpoints
	// (POST /admin/rotate-keys). Empty disables them.
	AdminToken string `yaml:"admin_token"`

	Clients []Client `yaml:"clients"`
	Users   []User   `yaml:"users"`
}

// Client is an OAuth 2.0 / OpenID Connect client.
type Client struct {
	ID string `yaml:"id"`
	// Secret authenticates a confidential client. A client without a secret
	// is public (a native app in RFC 8252 terms): it must use PKCE (S256) and
	// may use any port on its loopback redirect URIs.
	Secret string `yaml:"secret"`
	// GrantTypes: authorization_code, refresh_token, client_credentials.
	GrantTypes   []string `yaml:"grant_types"`
	RedirectURIs []string `yaml:"redirect_uris"`
	// PostLogoutRedirectURIs are accepted by the end_session endpoint.
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	// Audience of the client's access tokens (default: [api_audience]).
	Audience []string `yaml:"audience"`
	// Scopes are the non-standard scopes the client may request. Standard
	// OpenID scopes (openid, profile, email, offline_access, ...) are
	// always allowed.
	Scopes []string `yaml:"scopes"`
	// Groups and Clearance are the claims of the client's own
	// client_credentials tokens.
	Groups    []string `yaml:"groups"`
	Clearance string   `yaml:"clearance"`
}

// User is an end user who logs in through the code flow.
type User struct {
	// ID is the stable subject (sub) of the user's tokens.
	ID            string   `yaml:"id"`
	Username      string   `yaml:"username"`
	Password      string   `yaml:"password"`
	Name          string   `yaml:"name"`
	Email         string   `yaml:"email"`
	EmailVerified bool     `yaml:"email_verified"`
	Groups        []string `yaml:"groups"`
	Clearance     string   `yaml:"clearance"`
}

// Load reads, defaults and validates the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read idp config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("idp config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes a configuration (unknown keys are errors), applies the
// defaults and validates it.
func Parse(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("decode yaml: %w", err)
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// SetDefaults fills in unset optional fields.
func (c *Config) SetDefaults() {
	if c.APIAudience == "" {
		c.APIAudience = DefaultAPIAudience
	}
	if c.AccessTokenLifetime == 0 {
		c.AccessTokenLifetime = DefaultAccessTokenLifetime
	}
	if c.IDTokenLifetime == 0 {
		c.IDTokenLifetime = c.AccessTokenLifetime
	}
	if c.RefreshTokenLifetime == 0 {
		c.RefreshTokenLifetime = DefaultRefreshTokenLifetime
	}
	if c.AuthRequestLifetime == 0 {
		c.AuthRequestLifetime = DefaultAuthRequestLifetime
	}
	if c.SigningAlgorithm == "" {
		c.SigningAlgorithm = DefaultSigningAlgorithm
	}
	for i := range c.Clients {
		if len(c.Clients[i].Audience) == 0 {
			c.Clients[i].Audience = []string{c.APIAudience}
		}
	}
}

// Validate reports every problem of the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.AccessTokenLifetime < 0 || c.IDTokenLifetime < 0 || c.RefreshTokenLifetime < 0 || c.AuthRequestLifetime < 0 {
		add("lifetimes must not be negative")
	}
	if c.SigningAlgorithm != AlgRS256 && c.SigningAlgorithm != AlgES256 {
		add("signing_algorithm %q: want %s or %s", c.SigningAlgorithm, AlgRS256, AlgES256)
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		add("admin_token: must be at least 16 characters")
	}

	clientIDs := map[string]bool{}
	for i, cl := range c.Clients {
		where := fmt.Sprintf("clients[%d] (%s)", i, cl.ID)
		if cl.ID == "" {
			add("%s: id is empty", where)
		} else if clientIDs[cl.ID] {
			add("%s: duplicate id", where)
		}
		clientIDs[cl.ID] = true
		if len(cl.GrantTypes) == 0 {
			add("%s: grant_types is empty", where)
		}
		for _, g := range cl.GrantTypes {
			switch g {
			case GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials:
			default:
				add("%s: unknown grant type %q", where, g)
			}
		}
		if cl.HasGrant(GrantClientCredentials) && cl.Secret == "" {
			add("%s: client_credentials needs a secret", where)
		}
		if cl.HasGrant(GrantRefreshToken) && !cl.HasGrant(GrantAuthorizationCode) {
			add("%s: refresh_token needs authorization_code", where)
		}
		if cl.HasGrant(GrantAuthorizationCode) && len(cl.RedirectURIs) == 0 {
			add("%s: authorization_code needs redirect_uris", where)
		}
		for _, u := range slices.Concat(cl.RedirectURIs, cl.PostLogoutRedirectURIs) {
			if err := validateRedirectURI(u); err != nil {
				add("%s: redirect uri %q: %v", where, u, err)
			}
		}
		for _, a := range cl.Audience {
			if a == "" {
				add("%s: empty audience", where)
			}
		}
	}

	userIDs, usernames := map[string]bool{}, map[string]bool{}
	for i, u := range c.Users {
		where := fmt.Sprintf("users[%d] (%s)", i, u.Username)
		switch {
		case u.ID == "":
			add("%s: id is empty", where)
		case userIDs[u.ID]:
			add("%s: duplicate id", where)
		case clientIDs[u.ID]:
			add("%s: id %q is also a client id (client_credentials tokens use the client id as subject)", where, u.ID)
		}
		userIDs[u.ID] = true
		if u.Username == "" {
			add("%s: username is empty", where)
		} else if usernames[u.Username] {
			add("%s: duplicate username", where)
		}
		usernames[u.Username] = true
		if u.Password == "" {
			add("%s: password is empty", where)
		}
	}
	return errors.Join(errs...)
}

// HasGrant reports whether the client may use grant type g.
func (c Client) HasGrant(g string) bool { return slices.Contains(c.GrantTypes, g) }

// Client returns the client with the given id.
func (c *Config) Client(id string) (Client, bool) {
	for _, cl := range c.Clients {
		if cl.ID == id {
			return cl, true
		}
	}
	return Client{}, false
}

// UserByName returns the user with the given username.
func (c *Config) UserByName(username string) (User, bool) {
	for _, u := range c.Users {
		if u.Username == username {
			return u, true
		}
	}
	return User{}, false
}

// KeyRetention is how long a retired signing key stays published in the
// JWKS: the longest lifetime of a token it may have signed, plus a margin
// for clock skew.
func (c *Config) KeyRetention() time.Duration {
	return max(c.AccessTokenLifetime, c.IDTokenLifetime) + 5*time.Minute
}

func validateRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme == "" || u.Host == "" {
		return errors.New("must be absolute")
	}
	if u.Fragment != "" {
		return errors.New("must not have a fragment")
	}
	return nil
}
