// Package auth authenticates API callers: it verifies OIDC bearer tokens
// locally with coreos/go-oidc against the configured issuer and turns them
// into a Principal (subject, client, groups, clearance and the whole claim
// set, which package rbac maps to roles and a clearance level).
//
// What a token must be to pass Verify:
//
//   - a compact JWS of at most MaxTokenBytes, signed with one of SigningAlgs
//     (RS256, ES256, PS256). The token's alg header never chooses the
//     verification: "none", HS256 (e.g. keyed with the provider's public
//     key) and every other algorithm are refused before any key is looked
//     at, and a key verifies only when its type fits the algorithm (RSA of
//     at least 2048 bits for RS256/PS256, P-256 for ES256) and its published
//     alg, if any, is the same;
//   - signed by a key of the provider's JWKS (see KeySet): a known kid is
//     verified from the cache; an unknown kid refetches the JWKS at most
//     once per refetch interval (WithRefetchInterval, default 30s) and is
//     refused at once otherwise, so floods of made-up kids cannot hammer the
//     provider, while keys rotated at the provider work without a restart;
//   - issued by the configured issuer, for the API's audience, not expired
//     and not before its nbf (go-oidc allows 5 minutes of clock skew on nbf
//     and none on exp), with a subject.
//
// Refusals wrap ErrInvalidToken with a reason for the operator ("token is
// expired", "token is from another issuer", ...); a JWKS that cannot be
// fetched gives ErrUnavailable. No error quotes any part of the token: the
// reasons are fixed phrases, because they are sent to the caller.
package auth
