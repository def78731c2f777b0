// Package storage implements zitadel/oidc's op.Storage for the development
// OpenID Provider, driven by its configuration file: clients and users come
// from deploy/idp/config.yaml, signing keys from a KeyRing (persisted in the
// provider's state directory), and authorization requests, codes and token
// records live in memory.
//
// It follows the library's example storage
// (github.com/zitadel/oidc/v3/example/server/storage), reduced to what
// Heimdall's development stack needs: the authorization code flow with PKCE,
// refresh tokens, client_credentials, JWT access tokens carrying the groups
// and clearance claims, and key rotation.
package storage

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/heimdallhub/heimdall/deploy/idp/config"
)

// Claims the provider adds to access tokens, ID tokens and userinfo.
const (
	ClaimGroups    = "groups"
	ClaimClearance = "clearance"
	ClaimAZP       = "azp"
	ClaimScope     = "scope"
)

// ErrInvalidCredentials is returned by CheckUsernamePassword for an unknown
// user or a wrong password; which of them is never revealed.
var ErrInvalidCredentials = errors.New("invalid credentials")

// errNotFound is a not-found error the OP recognises (op.StorageNotFoundError).
type errNotFound string

func (e errNotFound) Error() string { return string(e) }
func (errNotFound) IsNotFound()     {}

// sweepInterval bounds how often expired in-memory records are dropped.
const sweepInterval = time.Minute

// Storage implements op.Storage, op.ClientCredentialsStorage,
// op.CanSetUserinfoFromRequest and op.CanGetPrivateClaimsFromRequest.
type Storage struct {
	cfg         *config.Config
	keys        *KeyRing
	clients     map[string]*Client
	users       map[string]config.User // by id
	usersByName map[string]config.User
	now         func() time.Time

	mu            sync.Mutex
	authRequests  map[string]*AuthRequest
	codes         map[string]string // code -> auth request id
	tokens        map[string]*accessToken
	refreshTokens map[string]*refreshToken
	lastSweep     time.Time
}

var (
	_ op.Storage                        = (*Storage)(nil)
	_ op.ClientCredentialsStorage       = (*Storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*Storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*Storage)(nil)
)

// New returns a storage for cfg (already validated) signing with keys.
func New(cfg *config.Config, keys *KeyRing) *Storage {
	s := &Storage{
		cfg:           cfg,
		keys:          keys,
		clients:       make(map[string]*Client, len(cfg.Clients)),
		users:         make(map[string]config.User, len(cfg.Users)),
		usersByName:   make(map[string]config.User, len(cfg.Users)),
		now:           time.Now,
		authRequests:  map[string]*AuthRequest{},
		codes:         map[string]string{},
		tokens:        map[string]*accessToken{},
		refreshTokens: map[string]*refreshToken{},
	}
	for _, c := range cfg.Clients {
		s.clients[c.ID] = &Client{cfg: c, idTokenLifetime: cfg.IDTokenLifetime}
	}
	for _, u := range cfg.Users {
		s.users[u.ID] = u
		s.usersByName[u.Username] = u
	}
	return s
}

// Keys returns the storage's key ring.
func (s *Storage) Keys() *KeyRing { return s.keys }

// CheckUsernamePassword completes the login of authorization request id. It
// is called by the login form.
func (s *Storage) CheckUsernamePassword(username, password, authRequestID string) error {
	user, ok := s.usersByName[username]
	// Compare even for an unknown user, so timing does not tell users apart.
	want := user.Password
	if !ok {
		want = "\x00unknown-user"
	}
	if subtle.ConstantTimeCompare([]byte(password), []byte(want)) != 1 || !ok {
		return ErrInvalidCredentials
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.authRequests[authRequestID]
	if !ok || req.expired(s.now()) {
		return errNotFound("auth request not found or expired")
	}
	req.UserID = user.ID
	req.AuthTime = s.now().UTC()
	req.done = true
	return nil
}

// LoginRequestValid reports whether id names a pending, unexpired
// authorization request (for the login form).
func (s *Storage) LoginRequestValid(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.authRequests[id]
	return ok && !req.expired(s.now())
}

// CreateAuthRequest implements op.AuthStorage.
func (s *Storage) CreateAuthRequest(_ context.Context, authReq *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if slices.Contains(authReq.Prompt, oidc.PromptNone) {
		// There are no login sessions: every authorization needs the form.
		return nil, oidc.ErrLoginRequired()
	}
	client, ok := s.clients[authReq.ClientID]
	if !ok {
		return nil, oidc.ErrInvalidClient()
	}
	var challenge *oidc.CodeChallenge
	if authReq.CodeChallenge != "" {
		challenge = &oidc.CodeChallenge{Challenge: authReq.CodeChallenge, Method: authReq.CodeChallengeMethod}
	}
	if client.AuthMethod() == oidc.AuthMethodNone && (challenge == nil || challenge.Method != oidc.CodeChallengeMethodS256) {
		return nil, oidc.ErrInvalidRequest().WithDescription("public clients must use PKCE with code_challenge_method=S256")
	}
	id := randomID()
	now := s.now()
	req := &AuthRequest{
		ID:            id,
		ClientID:      authReq.ClientID,
		RedirectURI:   authReq.RedirectURI,
		State:         authReq.State,
		Nonce:         authReq.Nonce,
		Scopes:        slices.Clone(authReq.Scopes),
		ResponseType:  authReq.ResponseType,
		ResponseMode:  authReq.ResponseMode,
		CodeChallenge: challenge,
		Audience:      slices.Clone(client.cfg.Audience),
		Created:       now,
		Expires:       now.Add(s.cfg.AuthRequestLifetime),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	s.authRequests[id] = req
	return req.clone(), nil
}

// AuthRequestByID implements op.AuthStorage.
func (s *Storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.authRequests[id]
	if !ok || req.expired(s.now()) {
		return nil, errNotFound("auth request not found or expired")
	}
	return req.clone(), nil
}

// AuthRequestByCode implements op.AuthStorage.
func (s *Storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.codes[code]
	if !ok {
		return nil, errNotFound("code invalid or expired")
	}
	req, ok := s.authRequests[id]
	if !ok || req.expired(s.now()) {
		return nil, errNotFound("code invalid or expired")
	}
	return req.clone(), nil
}

// SaveAuthCode implements op.AuthStorage.
func (s *Storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.authRequests[id]; !ok {
		return errNotFound("auth request not found")
	}
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest implements op.AuthStorage; it also invalidates the
// request's code, so a code is used at most once.
func (s *Storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteAuthRequestLocked(id)
	return nil
}

func (s *Storage) deleteAuthRequestLocked(id string) {
	delete(s.authRequests, id)
	for code, reqID := range s.codes {
		if reqID == id {
			delete(s.codes, code)
		}
	}
}

// CreateAccessToken implements op.AuthStorage.
func (s *Storage) CreateAccessToken(_ context.Context, request op.TokenRequest) (string, time.Time, error) {
	clientID, err := clientIDOf(request)
	if err != nil {
		return "", time.Time{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.newAccessTokenLocked(clientID, request.GetSubject(), request.GetAudience(), request.GetScopes(), "")
	return t.ID, t.Expires, nil
}

// CreateAccessAndRefreshTokens implements op.AuthStorage: for a code flow
// with offline_access (currentRefreshToken empty) and for the refresh grant,
// which rotates the refresh token.
func (s *Storage) CreateAccessAndRefreshTokens(_ context.Context, request op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	clientID, err := clientIDOf(request)
	if err != nil {
		return "", "", time.Time{}, err
	}
	newRefresh := randomID()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()

	var rt refreshToken
	if currentRefreshToken == "" {
		authReq, ok := request.(*AuthRequest)
		if !ok {
			return "", "", time.Time{}, fmt.Errorf("refresh token for unsupported request %T", request)
		}
		rt = refreshToken{
			ClientID: clientID,
			UserID:   authReq.UserID,
			Audience: slices.Clone(authReq.Audience),
			AMR:      authReq.GetAMR(),
			AuthTime: authReq.AuthTime,
		}
	} else {
		cur, ok := s.refreshTokens[currentRefreshToken]
		if !ok || !now.Before(cur.Expires) || cur.ClientID != clientID {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("invalid refresh token")
		}
		delete(s.refreshTokens, currentRefreshToken)
		delete(s.tokens, cur.AccessTokenID)
		rt = *cur
	}
	rt.Token = newRefresh
	rt.Scopes = slices.Clone(request.GetScopes())
	rt.Expires = now.Add(s.cfg.RefreshTokenLifetime)

	at := s.newAccessTokenLocked(clientID, request.GetSubject(), request.GetAudience(), request.GetScopes(), newRefresh)
	rt.AccessTokenID = at.ID
	s.refreshTokens[newRefresh] = &rt
	return at.ID, newRefresh, at.Expires, nil
}

func (s *Storage) newAccessTokenLocked(clientID, subject string, audience, scopes []string, refreshID string) *accessToken {
	id := randomID()
	now := s.now()
	s.sweepLocked(now)
	t := &accessToken{
		ID:             id,
		ClientID:       clientID,
		Subject:        subject,
		Audience:       slices.Clone(audience),
		Scopes:         slices.Clone(scopes),
		Expires:        now.Add(s.cfg.AccessTokenLifetime),
		RefreshTokenID: refreshID,
	}
	s.tokens[id] = t
	return t
}

// sweepLocked drops expired records, at most once per sweepInterval.
func (s *Storage) sweepLocked(now time.Time) {
	if now.Sub(s.lastSweep) < sweepInterval {
		return
	}
	s.lastSweep = now
	maps.DeleteFunc(s.tokens, func(_ string, t *accessToken) bool { return !now.Before(t.Expires) })
	maps.DeleteFunc(s.refreshTokens, func(_ string, t *refreshToken) bool { return !now.Before(t.Expires) })
	for id, req := range s.authRequests {
		if req.expired(now) {
			s.deleteAuthRequestLocked(id)
		}
	}
}

// TokenRequestByRefreshToken implements op.AuthStorage.
func (s *Storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	if !ok || !s.now().Before(rt.Expires) {
		return nil, oidc.ErrInvalidGrant().WithDescription("invalid refresh token")
	}
	return &RefreshTokenRequest{token: *rt}, nil
}

// TerminateSession implements op.AuthStorage: it drops the user's token
// records of the client (issued JWTs stay valid until they expire).
func (s *Storage) TerminateSession(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.tokens {
		if t.ClientID == clientID && t.Subject == userID {
			delete(s.tokens, id)
			delete(s.refreshTokens, t.RefreshTokenID)
		}
	}
	for token, rt := range s.refreshTokens {
		if rt.ClientID == clientID && rt.UserID == userID {
			delete(s.refreshTokens, token)
		}
	}
	return nil
}

// GetRefreshTokenInfo implements op.AuthStorage.
func (s *Storage) GetRefreshTokenInfo(_ context.Context, clientID, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	if !ok || rt.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.UserID, rt.Token, nil
}

// RevokeToken implements op.AuthStorage. Revoking an access token drops its
// record (userinfo and introspection stop accepting it); the JWT itself
// stays cryptographically valid until it expires.
func (s *Storage) RevokeToken(_ context.Context, tokenOrID, _ string, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[tokenOrID]; ok {
		if t.ClientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.tokens, tokenOrID)
		return nil
	}
	if rt, ok := s.refreshTokens[tokenOrID]; ok {
		if rt.ClientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.refreshTokens, tokenOrID)
		delete(s.tokens, rt.AccessTokenID)
	}
	return nil
}

// SigningKey implements op.AuthStorage: the key ring's active key.
func (s *Storage) SigningKey(context.Context) (op.SigningKey, error) {
	return s.keys.Active(), nil
}

// SignatureAlgorithms implements op.AuthStorage: the algorithms of the
// published keys.
func (s *Storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	var algs []jose.SignatureAlgorithm
	for _, k := range s.keys.Published() {
		if !slices.Contains(algs, k.alg) {
			algs = append(algs, k.alg)
		}
	}
	return algs, nil
}

// KeySet implements op.AuthStorage: the public keys of the JWKS, the active
// one and the retired ones still in their retention period.
func (s *Storage) KeySet(context.Context) ([]op.Key, error) {
	pub := s.keys.Published()
	out := make([]op.Key, 0, len(pub))
	for _, k := range pub {
		out = append(out, publicKey{k})
	}
	return out, nil
}

// GetClientByClientID implements op.OPStorage.
func (s *Storage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	c, ok := s.clients[clientID]
	if !ok {
		return nil, errNotFound("client not found")
	}
	return c, nil
}

// AuthorizeClientIDSecret implements op.OPStorage.
func (s *Storage) AuthorizeClientIDSecret(_ context.Context, clientID, secret string) error {
	_, err := s.authenticateClient(clientID, secret)
	return err
}

// errInvalidClient answers a failed client authentication: invalid_client
// with status 401 (RFC 6749, section 5.2). Which part was wrong is not said.
func errInvalidClient() error {
	return op.NewStatusError(oidc.ErrInvalidClient().WithDescription("invalid client credentials"), http.StatusUnauthorized)
}

func (s *Storage) authenticateClient(clientID, secret string) (*Client, error) {
	c, ok := s.clients[clientID]
	want := "\x00unknown-client"
	if ok && c.cfg.Secret != "" {
		want = c.cfg.Secret
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(want)) != 1 || !ok || c.cfg.Secret == "" {
		return nil, errInvalidClient()
	}
	return c, nil
}

// ClientCredentials implements op.ClientCredentialsStorage.
func (s *Storage) ClientCredentials(_ context.Context, clientID, secret string) (op.Client, error) {
	c, err := s.authenticateClient(clientID, secret)
	if err != nil {
		return nil, err
	}
	if !c.cfg.HasGrant(config.GrantClientCredentials) {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("client_credentials not allowed for this client")
	}
	return c, nil
}

// ClientCredentialsTokenRequest implements op.ClientCredentialsStorage. The
// audience is the client's configured audience (by default the API's), so no
// scope or resource parameter is needed. Requested scopes outside the
// client's allowed scopes are dropped.
func (s *Storage) ClientCredentialsTokenRequest(_ context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	c, ok := s.clients[clientID]
	if !ok {
		return nil, errInvalidClient()
	}
	granted := slices.DeleteFunc(slices.Clone(scopes), func(sc string) bool { return !c.IsScopeAllowed(sc) })
	return &clientCredentialsRequest{clientID: clientID, audience: slices.Clone(c.cfg.Audience), scopes: granted}, nil
}

// GetPrivateClaimsFromRequest implements op.CanGetPrivateClaimsFromRequest:
// the custom claims of a JWT access token.
func (s *Storage) GetPrivateClaimsFromRequest(_ context.Context, request op.TokenRequest, scopes []string) (map[string]any, error) {
	clientID, err := clientIDOf(request)
	if err != nil {
		return nil, err
	}
	return s.accessTokenClaims(request.GetSubject(), clientID, scopes)
}

// GetPrivateClaimsFromScopes implements op.OPStorage (used only when
// GetPrivateClaimsFromRequest is not).
func (s *Storage) GetPrivateClaimsFromScopes(_ context.Context, userID, clientID string, scopes []string) (map[string]any, error) {
	return s.accessTokenClaims(userID, clientID, scopes)
}

// accessTokenClaims returns groups, clearance, azp and scope for a token of
// subject (a user id, or for client_credentials the client's own id).
func (s *Storage) accessTokenClaims(subject, clientID string, scopes []string) (map[string]any, error) {
	groups, clearance, err := s.subjectClaims(subject, clientID)
	if err != nil {
		return nil, err
	}
	claims := map[string]any{
		ClaimGroups: groups,
		ClaimAZP:    clientID,
	}
	if clearance != "" {
		claims[ClaimClearance] = clearance
	}
	if len(scopes) > 0 {
		claims[ClaimScope] = strings.Join(scopes, " ")
	}
	return claims, nil
}

func (s *Storage) subjectClaims(subject, clientID string) ([]string, string, error) {
	if u, ok := s.users[subject]; ok {
		return nonNil(u.Groups), u.Clearance, nil
	}
	if c, ok := s.clients[subject]; ok && subject == clientID {
		return nonNil(c.cfg.Groups), c.cfg.Clearance, nil
	}
	return nil, "", errNotFound("subject not found")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

// SetUserinfoFromScopes implements op.OPStorage; SetUserinfoFromRequest does
// the work.
func (s *Storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest implements op.CanSetUserinfoFromRequest: the user
// claims of an ID token.
func (s *Storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, request op.IDTokenRequest, scopes []string) error {
	return s.setUserinfo(info, request.GetSubject(), scopes)
}

// SetUserinfoFromToken implements op.OPStorage for the userinfo endpoint.
func (s *Storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, _, _ string) error {
	s.mu.Lock()
	t, ok := s.tokens[tokenID]
	var tok accessToken
	if ok {
		tok = *t
	}
	s.mu.Unlock()
	if !ok || !s.now().Before(tok.Expires) {
		return errors.New("token is invalid or has expired")
	}
	return s.setUserinfo(info, tok.Subject, tok.Scopes)
}

func (s *Storage) setUserinfo(info *oidc.UserInfo, userID string, scopes []string) error {
	u, ok := s.users[userID]
	if !ok {
		return errNotFound("user not found")
	}
	info.Subject = u.ID
	info.AppendClaims(ClaimGroups, nonNil(u.Groups))
	if u.Clearance != "" {
		info.AppendClaims(ClaimClearance, u.Clearance)
	}
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile:
			info.PreferredUsername = u.Username
			info.Name = u.Name
		case oidc.ScopeEmail:
			info.Email = u.Email
			info.EmailVerified = oidc.Bool(u.EmailVerified)
		}
	}
	return nil
}

// SetIntrospectionFromToken implements op.OPStorage. Any authenticated
// client may introspect (development provider).
func (s *Storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, _, _ string) error {
	s.mu.Lock()
	t, ok := s.tokens[tokenID]
	var tok accessToken
	if ok {
		tok = *t
	}
	s.mu.Unlock()
	if !ok || !s.now().Before(tok.Expires) {
		return errors.New("token is invalid or has expired")
	}
	resp.Subject = tok.Subject
	resp.ClientID = tok.ClientID
	resp.Audience = tok.Audience
	resp.Scope = tok.Scopes
	resp.Expiration = oidc.FromTime(tok.Expires)
	groups, clearance, err := s.subjectClaims(tok.Subject, tok.ClientID)
	if err != nil {
		return err
	}
	resp.JWTID = tok.ID
	resp.TokenType = oidc.BearerToken
	resp.Claims = map[string]any{ClaimGroups: groups}
	if clearance != "" {
		resp.Claims[ClaimClearance] = clearance
	}
	return nil
}

// GetKeyByIDAndClientID implements op.OPStorage. No client has registered
// keys: the JWT profile grant and private_key_jwt are not offered.
func (s *Storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotFound("no client keys are registered")
}

// ValidateJWTProfileScopes implements op.OPStorage; the JWT profile grant is
// not offered.
func (s *Storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrUnauthorizedClient().WithDescription("jwt profile grant not supported")
}

// Health implements op.Storage.
func (s *Storage) Health(context.Context) error { return nil }

func clientIDOf(request op.TokenRequest) (string, error) {
	switch r := request.(type) {
	case *AuthRequest:
		return r.ClientID, nil
	case *RefreshTokenRequest:
		return r.token.ClientID, nil
	case *clientCredentialsRequest:
		return r.clientID, nil
	default:
		return "", oidc.ErrUnsupportedGrantType().WithDescription("unsupported token request")
	}
}

// randomID returns 130 random bits as base32 text.
func randomID() string { return rand.Text() }
