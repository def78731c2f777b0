package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// DefaultRefetchInterval is the least time between two JWKS fetches caused
// by tokens whose kid is not in the cached key set.
const DefaultRefetchInterval = 30 * time.Second

const (
	// jwksFetchTimeout bounds one JWKS fetch.
	jwksFetchTimeout = 10 * time.Second
	// maxJWKSBytes bounds the JWKS document.
	maxJWKSBytes = 1 << 20
	// minRSABits is the smallest RSA key accepted from the JWKS.
	minRSABits = 2048
)

// Reasons the key set refuses a signature. Verify turns them into
// ErrInvalidToken (or ErrUnavailable) reasons; none carries token content.
var (
	errKeyUnknown   = errors.New("token signing key is unknown: the provider does not publish it")
	errKeyThrottled = errors.New("token signing key is unknown and the provider's keys were fetched moments ago")
	errKeyMismatch  = errors.New("token signing key does not fit the token's algorithm")
	errSignature    = errors.New("token signature does not verify")
	errMalformed    = errors.New("token is malformed")
	errAlgorithm    = errors.New("token signing algorithm not accepted")
	errKeysFetch    = errors.New("signing keys could not be fetched from the provider")
)

// KeySet is an oidc.KeySet backed by the provider's JWKS with a bounded
// refetch rate:
//
//   - A token whose kid is in the cached key set is verified from the
//     cache; it never causes a fetch, even when its signature is wrong.
//   - A token whose kid is not cached causes a fetch only if the last fetch
//     (successful or not) started at least RefetchInterval ago; otherwise it
//     is refused at once. Concurrent tokens wait for a fetch in flight
//     instead of starting another one. So a flood of unknown kids costs the
//     provider at most one fetch per interval, while keys rotated at the
//     provider are picked up by the first token that uses them once the
//     interval has passed (at worst such tokens are refused for one
//     interval after a rotation).
//   - A token without kid is checked against all cached keys; it causes a
//     fetch (under the same limit) only while no key is cached.
//
// The token's alg header never chooses the verification: only SigningAlgs
// are parsed, and a key is used only when its type (and curve or size)
// fits that algorithm and its own alg, if published, is the same. Keys
// whose use is not "sig", private or symmetric keys, RSA keys under 2048
// bits and keys of other types are dropped when the JWKS is read.
type KeySet struct {
	url      string
	client   *http.Client
	interval time.Duration
	onFetch  func(error)
	now      func() time.Time
	// waitThrottled makes a token with an unknown kid that arrives within
	// the interval wait for the next allowed fetch (sharing it with every
	// other waiter) instead of being refused at once.
	waitThrottled bool

	fetches atomic.Int64

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	lastFetch time.Time     // start of the last fetch; zero before the first
	lastErr   error         // error of the last fetch that ended
	inflight  chan struct{} // closed when the fetch in flight ends; nil when none
}

// NewKeySet returns a key set reading the JWKS at jwksURL with client (nil:
// http.DefaultClient). interval <= 0 means DefaultRefetchInterval. onFetch,
// if not nil, is called after every fetch with its error (nil on success),
// e.g. to count fetches in a metric.
func NewKeySet(jwksURL string, client *http.Client, interval time.Duration, onFetch func(error)) *KeySet {
	if client == nil {
		client = http.DefaultClient
	}
	if interval <= 0 {
		interval = DefaultRefetchInterval
	}
	return &KeySet{url: jwksURL, client: client, interval: interval, onFetch: onFetch, now: time.Now}
}

// Fetches returns how many JWKS fetches the key set has started.
func (s *KeySet) Fetches() int64 { return s.fetches.Load() }

// RefetchInterval returns the least time between two fetches.
func (s *KeySet) RefetchInterval() time.Duration { return s.interval }

// VerifySignature implements oidc.KeySet: it returns the payload of the
// compact JWS jwt if it is signed by a key of the provider.
func (s *KeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := s.verify(ctx, jwt)
	if err != nil {
		if n, ok := ctx.Value(noteKey{}).(*note); ok {
			n.err = err
		}
		return nil, err
	}
	return payload, nil
}

func (s *KeySet) verify(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(jwt, signingAlgs())
	if err != nil {
		return nil, errMalformed
	}
	if len(jws.Signatures) != 1 {
		return nil, errMalformed
	}
	hdr := jws.Signatures[0].Header
	alg := jose.SignatureAlgorithm(hdr.Algorithm)
	kid := hdr.KeyID

	keys, found := s.lookup(kid)
	if !found {
		if keys, err = s.refetch(ctx, kid); err != nil {
			return nil, err
		}
	}
	tried := false
	for _, k := range keys {
		if !keyFits(k, alg) {
			continue
		}
		tried = true
		if payload, err := jws.Verify(k.Key); err == nil {
			return payload, nil
		}
	}
	if !tried && kid != "" {
		// The kid names keys, but none of a type that fits the alg.
		return nil, errKeyMismatch
	}
	return nil, errSignature
}

// lookup returns the cached keys for kid (all cached keys for an empty
// kid) and whether there are any.
func (s *KeySet) lookup(kid string) ([]jose.JSONWebKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookupLocked(kid)
}

func (s *KeySet) lookupLocked(kid string) ([]jose.JSONWebKey, bool) {
	if kid == "" {
		return s.keys, len(s.keys) > 0
	}
	var out []jose.JSONWebKey
	for _, k := range s.keys {
		if k.KeyID == kid {
			out = append(out, k)
		}
	}
	return out, len(out) > 0
}

// WaitThrottled makes tokens with an unknown kid that arrive within the
// refetch interval wait (at most the interval, and the caller's context)
// for the next allowed fetch, which all waiters share, rather than be
// refused at once: a key rotation at the provider then never refuses a good
// token, and a flood of made-up kids still causes one fetch per interval.
func (s *KeySet) WaitThrottled() *KeySet {
	s.waitThrottled = true
	return s
}

// refetch fetches the JWKS when allowed and returns the keys for kid.
func (s *KeySet) refetch(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	s.mu.Lock()
	wait := s.inflight
	for wait == nil && s.waitThrottled && !s.lastFetch.IsZero() && s.now().Sub(s.lastFetch) < s.interval {
		left := s.interval - s.now().Sub(s.lastFetch)
		s.mu.Unlock()
		t := time.NewTimer(left)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		s.mu.Lock()
		if keys, ok := s.lookupLocked(kid); ok { // another waiter's fetch found it
			s.mu.Unlock()
			return keys, nil
		}
		wait = s.inflight
	}
	if wait == nil {
		if !s.lastFetch.IsZero() && s.now().Sub(s.lastFetch) < s.interval {
			failed := s.lastErr != nil
			s.mu.Unlock()
			if failed {
				return nil, errKeysFetch
			}
			return nil, errKeyThrottled
		}
		wait = make(chan struct{})
		s.inflight = wait
		s.lastFetch = s.now()
		s.fetches.Add(1)
		go s.fetch(wait)
	}
	s.mu.Unlock()

	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-wait:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if keys, ok := s.lookupLocked(kid); ok {
		return keys, nil
	}
	if s.lastErr != nil {
		return nil, errKeysFetch
	}
	return nil, errKeyUnknown
}

// fetch runs one JWKS fetch, detached from the caller's context so one
// caller giving up does not fail the others waiting for it.
func (s *KeySet) fetch(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), jwksFetchTimeout)
	defer cancel()
	keys, err := s.download(ctx)
	s.mu.Lock()
	if err == nil {
		s.keys = keys
	}
	s.lastErr = err
	s.inflight = nil
	s.mu.Unlock()
	close(done)
	if s.onFetch != nil {
		s.onFetch(err)
	}
}

func (s *KeySet) download(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks fetch: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwks fetch: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks fetch: %s", resp.Status)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("jwks fetch: document larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(body)
}

// parseJWKS reads a JWK Set, keeping only public signature keys that one of
// SigningAlgs can use. Keys it cannot read are skipped (RFC 7517 section 5).
func parseJWKS(body []byte) ([]jose.JSONWebKey, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	var out []jose.JSONWebKey
	for _, r := range raw.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(r); err != nil {
			continue
		}
		if !k.Valid() || !k.IsPublic() || (k.Use != "" && k.Use != "sig") {
			continue
		}
		usable := false
		for _, alg := range signingAlgs() {
			usable = usable || keyFits(k, alg)
		}
		if usable {
			out = append(out, k)
		}
	}
	return out, nil
}

// keyFits reports whether k may verify a signature made with alg: its own
// alg, when published, is alg, and its type fits: RS256 and PS256 need an
// RSA key of at least 2048 bits, ES256 a P-256 key.
func keyFits(k jose.JSONWebKey, alg jose.SignatureAlgorithm) bool {
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return false
	}
	switch alg {
	case jose.RS256, jose.PS256:
		pub, ok := k.Key.(*rsa.PublicKey)
		return ok && pub.N.BitLen() >= minRSABits
	case jose.ES256:
		pub, ok := k.Key.(*ecdsa.PublicKey)
		return ok && pub.Curve == elliptic.P256()
	}
	return false
}

func signingAlgs() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(SigningAlgs))
	for i, a := range SigningAlgs {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}

// note carries the key set's refusal reason through go-oidc, which flattens
// the errors of a KeySet into text.
type note struct{ err error }

type noteKey struct{}
