// Package httpapi is Heimdall's HTTPS API on Echo: ingest and query routes
// under /v1 behind OIDC bearer authentication, /healthz, /readyz and
// /metrics, RFC 9457 problem+json errors, request ids and structured access
// logs. Domain errors become HTTP statuses here and only here.
package httpapi
