// Package agent is the importing side of peer sync: for every configured
// peer with a URL it pulls the peer's sync stream (package exchange) over
// HTTPS with a client-credentials token, and appends what it receives to
// the local event log — value and key byte for byte, headers kept, the
// HeaderVia path extended by the peer it came from.
//
// Delivery is at-least-once and every event is in the local log exactly
// once: for each chunk the agent claims the event ids in the store and
// commits (a claim that exists already means another peer delivered the
// event first: it is not appended again), appends the fresh records and
// waits for the log's acknowledgement, then settles the claims and stores
// the peer's cursor. A batch whose settling never came (the agent died, the
// broker or the database failed) is resolved by Recover from the log
// itself: claims of the events found there become final, the others are
// released for the next pull, which starts before them.
//
// Events whose origin is this peer are dropped (exporters do not send them;
// the check is a second line).
package agent
