package storage

import (
	"log/slog"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// AuthRequest is an authorization request between /authorize and the code
// exchange; it implements op.AuthRequest.
//
// GetAudience returns the audience of the access token. The provider
// package gives the ID token the client id as its only audience, so an ID
// token is never accepted by the API.
type AuthRequest struct {
	ID            string
	ClientID      string
	RedirectURI   string
	State         string
	Nonce         string
	Scopes        []string
	ResponseType  oidc.ResponseType
	ResponseMode  oidc.ResponseMode
	CodeChallenge *oidc.CodeChallenge
	Audience      []string
	Created       time.Time
	Expires       time.Time

	// Set by a successful login.
	UserID   string
	AuthTime time.Time
	done     bool
}

var _ op.AuthRequest = (*AuthRequest)(nil)

// LogValue implements slog.LogValuer without secrets.
func (a *AuthRequest) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", a.ID),
		slog.String("client_id", a.ClientID),
		slog.Any("scopes", a.Scopes),
	)
}

// op.AuthRequest and op.TokenRequest.

func (a *AuthRequest) GetID() string                         { return a.ID }
func (a *AuthRequest) GetACR() string                        { return "" }
func (a *AuthRequest) GetClientID() string                   { return a.ClientID }
func (a *AuthRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.CodeChallenge }
func (a *AuthRequest) GetNonce() string                      { return a.Nonce }
func (a *AuthRequest) GetRedirectURI() string                { return a.RedirectURI }
func (a *AuthRequest) GetResponseType() oidc.ResponseType    { return a.ResponseType }
func (a *AuthRequest) GetResponseMode() oidc.ResponseMode    { return a.ResponseMode }
func (a *AuthRequest) GetScopes() []string                   { return a.Scopes }
func (a *AuthRequest) GetState() string                      { return a.State }
func (a *AuthRequest) GetSubject() string                    { return a.UserID }
func (a *AuthRequest) GetAudience() []string                 { return a.Audience }
func (a *AuthRequest) GetAuthTime() time.Time                { return a.AuthTime }
func (a *AuthRequest) Done() bool                            { return a.done }
func (a *AuthRequest) SetCurrentScopes(scopes []string)      { a.Scopes = scopes }
func (a *AuthRequest) expired(now time.Time) bool            { return !now.Before(a.Expires) }
func (a *AuthRequest) clone() *AuthRequest                   { c := *a; return &c }
func (a *AuthRequest) GetAMR() []string {
	if a.done {
		return []string{"pwd"}
	}
	return nil
}

// clientCredentialsRequest is the token request of the client_credentials
// grant: the client is its own subject.
type clientCredentialsRequest struct {
	clientID string
	audience []string
	scopes   []string
}

func (r *clientCredentialsRequest) GetSubject() string    { return r.clientID }
func (r *clientCredentialsRequest) GetAudience() []string { return r.audience }
func (r *clientCredentialsRequest) GetScopes() []string   { return r.scopes }

// accessToken is the server-side record of an issued access token (its
// jti), for the userinfo, introspection and revocation endpoints. The JWT
// itself stays valid until it expires whatever happens to the record.
type accessToken struct {
	ID             string
	ClientID       string
	Subject        string
	Audience       []string
	Scopes         []string
	Expires        time.Time
	RefreshTokenID string
}

// refreshToken is an opaque refresh token (the token is its own id).
type refreshToken struct {
	Token         string
	ClientID      string
	UserID        string
	Audience      []string
	Scopes        []string
	AMR           []string
	AuthTime      time.Time
	Expires       time.Time
	AccessTokenID string
}

// RefreshTokenRequest implements op.RefreshTokenRequest.
type RefreshTokenRequest struct {
	token refreshToken
}

var _ op.RefreshTokenRequest = (*RefreshTokenRequest)(nil)

// op.RefreshTokenRequest.

func (r *RefreshTokenRequest) GetAMR() []string                 { return r.token.AMR }
func (r *RefreshTokenRequest) GetAudience() []string            { return r.token.Audience }
func (r *RefreshTokenRequest) GetAuthTime() time.Time           { return r.token.AuthTime }
func (r *RefreshTokenRequest) GetClientID() string              { return r.token.ClientID }
func (r *RefreshTokenRequest) GetScopes() []string              { return r.token.Scopes }
func (r *RefreshTokenRequest) GetSubject() string               { return r.token.UserID }
func (r *RefreshTokenRequest) SetCurrentScopes(scopes []string) { r.token.Scopes = scopes }
