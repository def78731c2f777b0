// Package provider assembles the development OpenID Provider: zitadel/oidc's
// op.Provider (OpenID Certified) on the storage of package storage, a
// username/password login form for the code flow, and an admin endpoint that
// rotates the signing keys.
//
// Served paths:
//
//	/.well-known/openid-configuration   discovery
//	/keys                               JWKS (active and recently retired keys)
//	/authorize, /authorize/callback     authorization code flow (PKCE)
//	/oauth/token                        code, refresh_token, client_credentials
//	/userinfo, /oauth/introspect, /revoke, /end_session
//	/login/username                     login form (GET) and submit (POST)
//	/admin/rotate-keys                  POST, bearer admin_token from the config
//	/healthz, /ready
//
// It is a development and test provider only.
package provider

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/heimdallhub/heimdall/deploy/idp/config"
	"github.com/heimdallhub/heimdall/deploy/idp/storage"
)

// Paths served next to the OP's endpoints.
const (
	RotateKeysPath = "/admin/rotate-keys"
	LoggedOutPath  = "/logged-out"
)

// Options configure New.
type Options struct {
	// Issuer is the https URL of the provider, without a path.
	Issuer string
	// Config is the validated configuration.
	Config *config.Config
	// StateDir persists the signing keys; empty keeps them in memory only.
	StateDir string
	// Logger receives the provider's logs (default slog.Default()).
	Logger *slog.Logger
}

// Provider is the development OpenID Provider as an http.Handler.
type Provider struct {
	handler http.Handler
	storage *storage.Storage
	logger  *slog.Logger
	admin   string
}

// New builds the provider. It loads or creates the signing keys in
// opts.StateDir.
func New(opts Options) (*Provider, error) {
	if opts.Config == nil {
		return nil, errors.New("provider: no config")
	}
	if err := validateIssuer(opts.Issuer); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	cfg := opts.Config

	keys, err := storage.OpenKeyRing(opts.StateDir, cfg.SigningAlgorithm, cfg.KeyRetention())
	if err != nil {
		return nil, fmt.Errorf("open signing keys: %w", err)
	}
	st := storage.New(cfg, keys)

	// The OP encrypts opaque tokens with this key; all our access tokens are
	// JWTs and refresh tokens are random and stored, so a per-process key
	// is enough.
	var cryptoKey [32]byte
	_, _ = rand.Read(cryptoKey[:]) // never fails (crypto/rand)

	opConfig := &op.Config{
		CryptoKey:                cryptoKey,
		DefaultLogoutRedirectURI: LoggedOutPath,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedUILocales:       []language.Tag{language.English},
		SupportedClaims: append(slices.Clone(op.DefaultSupportedClaims),
			"nbf", "jti", "scope", storage.ClaimGroups, storage.ClaimClearance),
	}
	oidcProvider, err := op.NewProvider(opConfig, st, op.StaticIssuer(opts.Issuer))
	if err != nil {
		return nil, fmt.Errorf("create openid provider: %w", err)
	}

	srv := &server{LegacyServer: op.NewLegacyServer(oidcProvider, oidcProvider.Endpoints()), provider: oidcProvider}
	opHandler := op.RegisterLegacyServer(srv, op.AuthorizeCallbackHandler(oidcProvider))

	templates, err := template.ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse login templates: %w", err)
	}
	p := &Provider{storage: st, logger: logger, admin: cfg.AdminToken}
	lg := &login{
		storage:   st,
		callback:  op.AuthCallbackURL(oidcProvider),
		logger:    logger,
		cookieTTL: int(cfg.AuthRequestLifetime.Seconds()),
		templates: templates,
	}

	mux := http.NewServeMux()
	mux.Handle(storage.LoginPath, op.NewIssuerInterceptor(oidcProvider.IssuerFromRequest).Handler(lg))
	mux.HandleFunc("GET "+LoggedOutPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("signed out\n"))
	})
	if cfg.AdminToken != "" {
		mux.HandleFunc("POST "+RotateKeysPath, p.rotateKeys)
	}
	mux.Handle("/", opHandler)
	p.handler = logRequests(logger, securityHeaders(mux))

	active := keys.Active()
	logger.Info("openid provider ready",
		"issuer", opts.Issuer,
		"clients", len(cfg.Clients),
		"users", len(cfg.Users),
		"kid", active.ID(),
		"alg", string(active.SignatureAlgorithm()),
		"state_dir", opts.StateDir,
		"admin_endpoints", cfg.AdminToken != "")
	if opts.StateDir == "" {
		logger.Warn("no state directory: signing keys are lost on restart")
	}
	return p, nil
}

// ServeHTTP implements http.Handler.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.handler.ServeHTTP(w, r) }

// Keys returns the provider's signing key ring.
func (p *Provider) Keys() *storage.KeyRing { return p.storage.Keys() }

func validateIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("issuer %q: must be an https URL", issuer)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("issuer %q: must not have a path, query or fragment", issuer)
	}
	return nil
}

// server is the OP's legacy server with one change: the ID token's audience
// is the client alone, while the access token's audience is the API's. With
// the stock server both would carry the same audience, and an ID token would
// pass the API's audience check.
type server struct {
	*op.LegacyServer
	provider *op.Provider
}

// CodeExchange follows op.LegacyServer.CodeExchange.
func (s *server) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	authReq, err := op.AuthRequestByCode(ctx, s.provider.Storage(), r.Data.Code)
	if err != nil {
		return nil, err
	}
	if r.Client.AuthMethod() == oidc.AuthMethodNone || r.Data.CodeVerifier != "" {
		if err := op.AuthorizeCodeChallenge(r.Data.CodeVerifier, authReq.GetCodeChallenge()); err != nil {
			return nil, err
		}
	}
	if r.Client.GetID() != authReq.GetClientID() {
		return nil, oidc.ErrInvalidGrant()
	}
	if r.Data.RedirectURI != authReq.GetRedirectURI() {
		return nil, oidc.ErrInvalidGrant().WithDescription("redirect_uri does not correspond")
	}
	resp, err := s.tokenResponse(ctx, authReq, idTokenAuthRequest{authReq}, r.Client, r.Data.Code, "")
	if err != nil {
		return nil, err
	}
	return op.NewResponse(resp), nil
}

// RefreshToken follows op.LegacyServer.RefreshToken.
func (s *server) RefreshToken(ctx context.Context, r *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	request, err := op.RefreshTokenRequestByRefreshToken(ctx, s.provider.Storage(), r.Data.RefreshToken)
	if err != nil {
		return nil, err
	}
	if r.Client.GetID() != request.GetClientID() {
		return nil, oidc.ErrInvalidGrant()
	}
	if err := op.ValidateRefreshTokenScopes(r.Data.Scopes, request); err != nil {
		return nil, err
	}
	resp, err := s.tokenResponse(ctx, request, idTokenRefreshRequest{request}, r.Client, "", r.Data.RefreshToken)
	if err != nil {
		return nil, err
	}
	return op.NewResponse(resp), nil
}

// Discovery advertises only what the provider does: the code flow (no
// implicit flow, no JWT bearer grant).
func (s *server) Discovery(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	resp, err := s.LegacyServer.Discovery(ctx, r)
	if err != nil {
		return nil, err
	}
	if d, ok := resp.Data.(*oidc.DiscoveryConfiguration); ok {
		d.GrantTypesSupported = slices.DeleteFunc(d.GrantTypesSupported, func(g oidc.GrantType) bool {
			return g == oidc.GrantTypeImplicit || g == oidc.GrantTypeBearer
		})
		d.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	}
	return resp, nil
}

// JWTProfile refuses the JWT bearer grant: no client has registered keys.
func (s *server) JWTProfile(context.Context, *op.Request[oidc.JWTProfileGrantRequest]) (*op.Response, error) {
	return nil, oidc.ErrUnsupportedGrantType().WithDescription("jwt bearer grant not supported")
}

// tokenResponse follows op.CreateTokenResponse, with idReq for the ID token.
func (s *server) tokenResponse(ctx context.Context, req op.IDTokenRequest, idReq op.IDTokenRequest, client op.Client, code, refreshToken string) (*oidc.AccessTokenResponse, error) {
	accessToken, newRefreshToken, validity, err := op.CreateAccessToken(ctx, req, client.AccessTokenType(), s.provider, client, refreshToken)
	if err != nil {
		return nil, err
	}
	idToken, err := op.CreateIDToken(ctx, op.IssuerFromContext(ctx), idReq, client.IDTokenLifetime(), accessToken, code, s.provider.Storage(), client)
	if err != nil {
		return nil, err
	}
	if authReq, ok := req.(op.AuthRequest); ok {
		if err := s.provider.Storage().DeleteAuthRequest(ctx, authReq.GetID()); err != nil {
			return nil, err
		}
	}
	return &oidc.AccessTokenResponse{
		AccessToken:  accessToken,
		IDToken:      idToken,
		RefreshToken: newRefreshToken,
		TokenType:    oidc.BearerToken,
		ExpiresIn:    uint64(max(validity.Seconds(), 0)),
		Scope:        req.GetScopes(),
	}, nil
}

// idTokenAuthRequest is an auth request whose audience is its client.
type idTokenAuthRequest struct{ op.AuthRequest }

func (r idTokenAuthRequest) GetAudience() []string { return []string{r.GetClientID()} }

// idTokenRefreshRequest is a refresh request whose audience is its client.
type idTokenRefreshRequest struct{ op.RefreshTokenRequest }

func (r idTokenRefreshRequest) GetAudience() []string { return []string{r.GetClientID()} }
