package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Errors a caller may see (as 401 reasons). They never include token content.
var (
	ErrNoToken      = errors.New("no bearer token")
	ErrInvalidToken = errors.New("token rejected")
	ErrUnavailable  = errors.New("identity provider not reachable yet")
)

// Principal is an authenticated caller.
type Principal struct {
	Subject   string
	Issuer    string
	ClientID  string
	Groups    []string
	Clearance string
	Expiry    time.Time
}

// Verifier checks bearer tokens. It discovers the provider lazily and retries
// discovery (at most once per RetryInterval) until it succeeds, so the API
// can start before the provider.
type Verifier struct {
	issuer, audience string
	client           *http.Client
	log              *slog.Logger
	retry            time.Duration

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	lastTry  time.Time
	lastErr  error
}

// SigningAlgs are the only algorithms accepted, whatever a token's header says.
var SigningAlgs = []string{oidc.RS256, oidc.ES256, oidc.PS256}

// New returns a verifier for tokens issued by issuer for audience. client
// must be configured for TLS 1.3 with the provider's CA.
func New(issuer, audience string, client *http.Client, log *slog.Logger) *Verifier {
	return &Verifier{issuer: issuer, audience: audience, client: client, log: log, retry: 5 * time.Second}
}

// Ready discovers the provider if that has not happened yet.
func (v *Verifier) Ready(ctx context.Context) error {
	_, err := v.get(ctx)
	return err
}

func (v *Verifier) get(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	if !v.lastTry.IsZero() && time.Since(v.lastTry) < v.retry {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, v.lastErr)
	}
	v.lastTry = time.Now()
	dctx, cancel := context.WithTimeout(oidc.ClientContext(context.WithoutCancel(ctx), v.client), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, v.issuer)
	if err != nil {
		v.lastErr = err
		v.log.Warn("oidc discovery failed", "issuer", v.issuer, "err", err)
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	// The remote key set refetches JWKS when it meets an unknown kid; the
	// client context keeps our TLS settings for those fetches.
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), v.client), jwksURL(p))
	v.verifier = oidc.NewVerifier(v.issuer, keys, &oidc.Config{
		ClientID:             v.audience,
		SupportedSigningAlgs: SigningAlgs,
	})
	v.log.Info("oidc provider discovered", "issuer", v.issuer)
	return v.verifier, nil
}

func jwksURL(p *oidc.Provider) string {
	var c struct {
		JWKSURL string `json:"jwks_uri"`
	}
	_ = p.Claims(&c)
	return c.JWKSURL
}

// Verify checks a raw bearer token and returns the caller.
func (v *Verifier) Verify(ctx context.Context, raw string) (Principal, error) {
	if raw == "" {
		return Principal{}, ErrNoToken
	}
	ver, err := v.get(ctx)
	if err != nil {
		return Principal{}, err
	}
	tok, err := ver.Verify(ctx, raw)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %s", ErrInvalidToken, reason(err))
	}
	var c struct {
		Groups    []string `json:"groups"`
		Clearance string   `json:"clearance"`
		ClientID  string   `json:"client_id"`
		AZP       string   `json:"azp"`
	}
	if err := tok.Claims(&c); err != nil {
		return Principal{}, fmt.Errorf("%w: claims are malformed", ErrInvalidToken)
	}
	if tok.Subject == "" {
		return Principal{}, fmt.Errorf("%w: token has no subject", ErrInvalidToken)
	}
	client := c.ClientID
	if client == "" {
		client = c.AZP
	}
	return Principal{
		Subject: tok.Subject, Issuer: tok.Issuer, ClientID: client,
		Groups: c.Groups, Clearance: c.Clearance, Expiry: tok.Expiry,
	}, nil
}

// reason condenses a go-oidc error to a phrase that helps an operator
// without echoing the token.
func reason(err error) string {
	var expired *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &expired):
		return "token is expired"
	case strings.Contains(msg, "nbf"):
		return "token is not valid yet"
	case strings.Contains(msg, "audience"):
		return "token is not for this API (audience)"
	case strings.Contains(msg, "issuer"):
		return "token is from another issuer"
	case strings.Contains(msg, "signing algorithm") || strings.Contains(msg, "unsupported"):
		return "token signing algorithm not accepted"
	case strings.Contains(msg, "signature"):
		return "token signature does not verify"
	case strings.Contains(msg, "malformed"):
		return "token is malformed"
	}
	return "token does not verify"
}

// BearerToken extracts the token of an "Authorization: Bearer" header.
func BearerToken(header string) string {
	const prefix = "bearer "
	if len(header) > len(prefix) && strings.EqualFold(header[:len(prefix)], prefix) {
		return strings.TrimSpace(header[len(prefix):])
	}
	return ""
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the caller stored by WithPrincipal.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}
