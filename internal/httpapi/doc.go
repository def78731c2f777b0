// Package httpapi is Heimdall's HTTPS API on Echo: ingest and query routes
// under /v1 behind OIDC bearer authentication, /healthz, /readyz and
// /metrics, RFC 9457 problem+json errors, request ids and structured access
// logs. Domain errors become HTTP statuses here and only here.
//
// The edge (edge.go, ratelimit.go) holds for every request: headers are
// read within Edge.ReadHeaderTimeout and bounded by Edge.MaxHeaderBytes
// (net/http answers 431 beyond); a request body that sends no byte for
// Edge.BodyIdleTimeout is cut, by a read deadline moved on every read, so an
// upload that keeps sending is never cut however long it is, while one that
// stalls, or trickles a body the server discards after refusing it, is;
// every response has Strict-Transport-Security and nosniff, every /v1
// response Cache-Control: no-store. Decrypt, audit, Cypher and ingest are
// rate-limited per caller (token issuer and subject, else remote address)
// before their handler runs, so a refused decryption writes no audit
// record: 429 with Retry-After. The HTTP metrics are labelled by route
// template and a bounded method. Problem bodies are fixed text: they never
// echo a path, query, header or body value of the request.
//
// Clearance: visibility is the one rule that turns a caller's clearance
// into the graph.Visibility every read passes to the read model, decrypt
// included (sealedRecords). A record above the caller's clearance and one
// that does not exist give the same status and body on every route that
// takes a key or value, and the read model does the same work for both.
package httpapi
