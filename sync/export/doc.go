// Package export serves this peer's event log to other peers: the sending
// side of peer sync. An Exporter reads the events topic from the caller's
// cursor and writes the sync stream (package exchange), leaving out every
// record the caller already held (its origin or a peer on its path) and
// every record the caller's agreement does not allow. A record it cannot
// decode is never sent (its classification is unknown) and is counted.
package export
