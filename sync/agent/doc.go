// Package agent is the importing side of peer sync: for every configured
// peer with a URL it pulls the peer's sync stream (package exchange) over
// HTTPS with a client-credentials token, and appends what it receives to
// the local event log — value and key byte for byte, headers kept, the
// HeaderVia path extended by the peer it came from.
//
// Import is at-least-once and its effect exactly once: for each chunk the
// agent opens a store transaction, claims the chunk's event ids (a claim
// that exists already means another peer delivered the event first: it is
// not appended again), appends the rest and waits for the log's
// acknowledgement, then stores the peer's cursor and commits. A crash before
// the commit leaves neither claims nor cursor: the chunk comes again, and
// only a crash between the acknowledgement and the commit can append an
// event twice — which the projectors apply once (their merges are
// idempotent).
//
// Events whose origin is this peer are dropped (exporters do not send them;
// the check is a second line).
package agent
