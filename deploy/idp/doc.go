// Command idp is Heimdall's development and test OpenID Provider. It is not
// for production: its configuration file (deploy/idp/config.yaml) holds
// plaintext client secrets, user passwords and the admin token, all of them
// committed to the repository.
//
// It is a real OpenID Provider, built on zitadel/oidc's op package (OpenID
// Certified), not a hand-made token signer: discovery, JWKS, the
// authorization code flow with PKCE and a username/password login form,
// refresh tokens, client_credentials, userinfo, introspection, revocation
// and end_session. Access tokens are signed JWTs (RS256 by default, ES256 on
// request) for the audience heimdall-api, carrying the groups and clearance
// claims Heimdall's RBAC reads; ID tokens are for the client alone.
//
// It serves HTTPS only, TLS 1.3 only, with a leaf certificate issued by the
// development CA; there is no plaintext listener. Its signing keys live in
// the -state directory, so a restart keeps already issued tokens
// verifiable. POST /admin/rotate-keys (bearer admin_token) rotates them: new
// tokens get a new kid, and the retired public key stays in the JWKS until
// the tokens it signed have expired.
//
// Usage:
//
//	idp -cert .stack/certs/idp.crt -key .stack/certs/idp.key \
//	    -config deploy/idp/config.yaml -state .stack/idp \
//	    [-addr 127.0.0.1:58443] [-issuer https://localhost:58443]
//
// Logs are JSON lines (log/slog) on stderr. SIGINT or SIGTERM shut it down
// gracefully. Tests reach it through internal/config/devstack.
package main
