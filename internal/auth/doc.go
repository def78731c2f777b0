// Package auth authenticates API callers: it verifies OIDC bearer tokens
// locally with coreos/go-oidc against the configured issuer (discovery, JWKS
// with rotation, the API's own audience, expiry and an allow-list of signing
// algorithms so a token's alg header never chooses the verification) and
// turns them into a Principal.
package auth
