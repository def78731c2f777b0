package storage

import (
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/heimdallhub/heimdall/deploy/idp/config"
)

// LoginPath is where the provider serves the login form. The OP redirects the
// user agent to LoginPath?authRequestID=<id>.
const LoginPath = "/login/username"

// Client is a configured client; it implements op.Client.
type Client struct {
	cfg             config.Client
	idTokenLifetime time.Duration
}

var _ op.Client = (*Client)(nil)

// GetID implements op.Client.
func (c *Client) GetID() string { return c.cfg.ID }

// RedirectURIs implements op.Client.
func (c *Client) RedirectURIs() []string { return c.cfg.RedirectURIs }

// PostLogoutRedirectURIs implements op.Client.
func (c *Client) PostLogoutRedirectURIs() []string { return c.cfg.PostLogoutRedirectURIs }

// ApplicationType implements op.Client: clients without a secret are native
// (public) apps, which the OP holds to PKCE and RFC 8252 loopback redirects.
func (c *Client) ApplicationType() op.ApplicationType {
	if c.cfg.Secret == "" {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

// AuthMethod implements op.Client.
func (c *Client) AuthMethod() oidc.AuthMethod {
	if c.cfg.Secret == "" {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

// ResponseTypes implements op.Client: only the code flow.
func (c *Client) ResponseTypes() []oidc.ResponseType {
	if c.cfg.HasGrant(config.GrantAuthorizationCode) {
		return []oidc.ResponseType{oidc.ResponseTypeCode}
	}
	return nil
}

// GrantTypes implements op.Client.
func (c *Client) GrantTypes() []oidc.GrantType {
	out := make([]oidc.GrantType, 0, len(c.cfg.GrantTypes))
	for _, g := range c.cfg.GrantTypes {
		out = append(out, oidc.GrantType(g))
	}
	return out
}

// LoginURL implements op.Client.
func (c *Client) LoginURL(authRequestID string) string {
	return LoginPath + "?authRequestID=" + authRequestID
}

// AccessTokenType implements op.Client: access tokens are always JWTs.
func (c *Client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }

// IDTokenLifetime implements op.Client.
func (c *Client) IDTokenLifetime() time.Duration { return c.idTokenLifetime }

// DevMode implements op.Client. It stays off: the OP's redirect URI rules
// apply in full.
func (c *Client) DevMode() bool { return false }

// RestrictAdditionalIdTokenScopes implements op.Client.
func (c *Client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

// RestrictAdditionalAccessTokenScopes implements op.Client.
func (c *Client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

// IsScopeAllowed implements op.Client for non-standard scopes.
func (c *Client) IsScopeAllowed(scope string) bool { return slices.Contains(c.cfg.Scopes, scope) }

// IDTokenUserinfoClaimsAssertion implements op.Client: profile and email
// claims go to the userinfo endpoint, as OpenID Connect Core 5.4 says.
func (c *Client) IDTokenUserinfoClaimsAssertion() bool { return false }

// ClockSkew implements op.Client.
func (c *Client) ClockSkew() time.Duration { return 0 }
