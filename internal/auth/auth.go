package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/heimdallhub/heimdall/internal/rbac"
)

// Errors a caller may see (as 401 reasons). They never include token content.
var (
	ErrNoToken      = errors.New("no bearer token")
	ErrInvalidToken = errors.New("token rejected")
	ErrUnavailable  = errors.New("identity provider not reachable yet")
)

// Principal is an authenticated caller.
type Principal struct {
	Subject  string
	Issuer   string
	ClientID string // client_id, or azp when there is none
	// Groups is the groups claim (a string or a list of strings; other
	// values are ignored).
	Groups []string
	// Clearance is the clearance claim when it is a string.
	Clearance string
	Expiry    time.Time
	// Claims is the token's whole claim set as decoded JSON (numbers are
	// float64), for role and clearance mapping (see package rbac). Treat it
	// as read-only.
	Claims map[string]any
}

// Option configures a Verifier.
type Option func(*options)

type options struct {
	refetch time.Duration
	onFetch func(error)
	now     func() time.Time
	wait    bool
}

// WithWaitForRefetch makes a token with an unknown kid that arrives within
// the refetch interval wait for the next allowed JWKS fetch instead of being
// refused (see KeySet.WaitThrottled). Heimdall's API uses it.
func WithWaitForRefetch() Option {
	return func(o *options) { o.wait = true }
}

// WithRefetchInterval sets the least time between two JWKS fetches caused
// by tokens with a kid that is not cached (default DefaultRefetchInterval).
// Tokens with an unknown kid that arrive sooner are refused at once.
func WithRefetchInterval(d time.Duration) Option {
	return func(o *options) { o.refetch = d }
}

// WithJWKSFetchHook calls fn after every JWKS fetch with its error (nil on
// success), e.g. to count fetches in a metric. fn must not block.
func WithJWKSFetchHook(fn func(err error)) Option {
	return func(o *options) { o.onFetch = fn }
}

// Verifier checks bearer tokens. It discovers the provider lazily and retries
// discovery (at most once per RetryInterval) until it succeeds, so the API
// can start before the provider.
type Verifier struct {
	issuer, audience string
	client           *http.Client
	log              *slog.Logger
	retry            time.Duration
	opts             options

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	keys     *KeySet
	lastTry  time.Time
	lastErr  error
}

// SigningAlgs are the only algorithms accepted, whatever a token's header says.
var SigningAlgs = []string{oidc.RS256, oidc.ES256, oidc.PS256}

// MaxTokenBytes bounds the size of a bearer token.
const MaxTokenBytes = 16 << 10

// New returns a verifier for tokens issued by issuer for audience. client
// must be configured for TLS 1.3 with the provider's CA.
func New(issuer, audience string, client *http.Client, log *slog.Logger, opts ...Option) *Verifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	v := &Verifier{issuer: issuer, audience: audience, client: client, log: log, retry: 5 * time.Second}
	v.opts.refetch = DefaultRefetchInterval
	for _, o := range opts {
		o(&v.opts)
	}
	if v.opts.refetch <= 0 {
		v.opts.refetch = DefaultRefetchInterval
	}
	return v
}

// Ready discovers the provider if that has not happened yet.
func (v *Verifier) Ready(ctx context.Context) error {
	_, err := v.get(ctx)
	return err
}

// JWKSFetches returns how many times the provider's JWKS has been fetched
// (0 before discovery).
func (v *Verifier) JWKSFetches() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.keys == nil {
		return 0
	}
	return v.keys.Fetches()
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
	if err == nil && jwksURL(p) == "" {
		err = errors.New("discovery document has no jwks_uri")
	}
	if err != nil {
		v.lastErr = err
		v.log.Warn("oidc discovery failed", "issuer", v.issuer, "err", err)
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	// Our key set bounds the JWKS fetches that unknown kids cause (see
	// KeySet); go-oidc checks issuer, audience, expiry and not-before.
	url, hook, log := jwksURL(p), v.opts.onFetch, v.log
	v.keys = NewKeySet(url, v.client, v.opts.refetch, func(err error) {
		if err != nil {
			log.Warn("jwks fetch failed", "url", url, "err", err)
		}
		if hook != nil {
			hook(err)
		}
	})
	if v.opts.now != nil {
		v.keys.now = v.opts.now
	}
	if v.opts.wait {
		v.keys.WaitThrottled()
	}
	v.verifier = oidc.NewVerifier(v.issuer, v.keys, &oidc.Config{
		ClientID:             v.audience,
		SupportedSigningAlgs: SigningAlgs,
		Now:                  v.opts.now,
	})
	v.log.Info("oidc provider discovered", "issuer", v.issuer, "jwks_refetch_interval", v.opts.refetch)
	return v.verifier, nil
}

func jwksURL(p *oidc.Provider) string {
	var c struct {
		JWKSURL string `json:"jwks_uri"`
	}
	_ = p.Claims(&c)
	return c.JWKSURL
}

// Verify checks a raw bearer token and returns the caller. Refusals wrap
// ErrInvalidToken (or ErrUnavailable when the provider's keys cannot be
// fetched) with a reason for the operator that never quotes the token.
func (v *Verifier) Verify(ctx context.Context, raw string) (Principal, error) {
	if raw == "" {
		return Principal{}, ErrNoToken
	}
	if err := precheck(raw); err != nil {
		return Principal{}, fmt.Errorf("%w: %s", ErrInvalidToken, err)
	}
	ver, err := v.get(ctx)
	if err != nil {
		return Principal{}, err
	}
	n := &note{}
	tok, err := ver.Verify(context.WithValue(ctx, noteKey{}, n), raw)
	if err != nil {
		if errors.Is(n.err, errKeysFetch) {
			return Principal{}, fmt.Errorf("%w: %s", ErrUnavailable, n.err)
		}
		return Principal{}, fmt.Errorf("%w: %s", ErrInvalidToken, reason(err, n.err))
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil || claims == nil {
		return Principal{}, fmt.Errorf("%w: claims are malformed", ErrInvalidToken)
	}
	if tok.Subject == "" {
		return Principal{}, fmt.Errorf("%w: token has no subject", ErrInvalidToken)
	}
	client, _ := claims["client_id"].(string)
	if client == "" {
		client, _ = claims["azp"].(string)
	}
	clearance, _ := claims["clearance"].(string)
	return Principal{
		Subject: tok.Subject, Issuer: tok.Issuer, ClientID: client,
		Groups: rbac.StringValues(claims["groups"]), Clearance: clearance, Expiry: tok.Expiry,
		Claims: claims,
	}, nil
}

// precheck refuses what is not a compact JWS signed with one of
// SigningAlgs before any other work: go-jose would also accept the JSON
// serialization, and the header's alg decides nothing but this refusal.
func precheck(raw string) error {
	if len(raw) > MaxTokenBytes {
		return errors.New("token is too large")
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return errMalformed
	}
	for _, p := range parts[:2] {
		if p == "" || !isBase64URL(p) {
			return errMalformed
		}
	}
	if !isBase64URL(parts[2]) {
		return errMalformed
	}
	hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return errMalformed
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hdr, &h); err != nil {
		return errMalformed
	}
	if !slices.Contains(SigningAlgs, h.Alg) {
		return errAlgorithm
	}
	if parts[2] == "" {
		return errors.New("token is not signed")
	}
	return nil
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// reason condenses a go-oidc error to a phrase that helps an operator
// without echoing the token. keyErr is the key set's own reason, if it
// refused the signature. go-oidc's messages quote token claims after fixed
// prefixes, so only those prefixes are matched.
func reason(err, keyErr error) string {
	if keyErr != nil {
		return keyErr.Error()
	}
	var expired *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &expired):
		return "token is expired"
	case strings.HasPrefix(msg, "oidc: current time"):
		return "token is not valid yet (nbf)"
	case strings.HasPrefix(msg, "oidc: expected audience"):
		return "token is not for this API (audience)"
	case strings.HasPrefix(msg, "oidc: id token issued by a different provider"):
		return "token is from another issuer"
	case strings.HasPrefix(msg, "oidc: malformed jwt"):
		return "token is malformed or its signing algorithm is not accepted"
	case strings.HasPrefix(msg, "oidc: failed to unmarshal claims"):
		return "claims are malformed"
	case strings.HasPrefix(msg, "failed to verify signature"):
		return "token signature does not verify"
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
