package exchange

import (
	"slices"
	"strings"
)

// Agreement is what one peer may receive from this one. It is applied by the
// exporter before anything is sent: an event it does not allow never leaves,
// not its key, not a placeholder, and nothing else that is sent counts or
// names it (version vectors hold clock values per peer, not event counts).
type Agreement struct {
	// Levels are the deployment's classification levels, lowest first.
	Levels []string
	// MaxClassification is the highest level the peer may receive.
	MaxClassification string
	// Sources, when not empty, are the only provenance sources the peer may
	// receive; an event without a source (a reclassification, a
	// retraction) is then not sent either.
	Sources []string
}

// rank is the index of level in Levels (case-insensitive), or -1.
func (a Agreement) rank(level string) int {
	return slices.IndexFunc(a.Levels, func(l string) bool { return strings.EqualFold(l, strings.TrimSpace(level)) })
}

// Valid reports whether the agreement names a known level.
func (a Agreement) Valid() bool { return a.rank(a.MaxClassification) >= 0 }

// Allows reports whether an event of the given classification and
// provenance source may be sent. An event without a classification is of
// the highest level (nobody annotated it), and an unknown level is never
// allowed.
func (a Agreement) Allows(classification, source string) bool {
	max := a.rank(a.MaxClassification)
	if max < 0 {
		return false
	}
	r := len(a.Levels) - 1
	if classification != "" {
		r = a.rank(classification)
	}
	if r < 0 || r > max {
		return false
	}
	if len(a.Sources) > 0 && !slices.Contains(a.Sources, source) {
		return false
	}
	return true
}

// Path returns the peers a record passed through, origin first: the origin
// followed by the peers of its HeaderVia value that are not the origin.
func Path(origin, via string) []string {
	path := []string{origin}
	for _, p := range strings.Split(via, ",") {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(path, p) {
			path = append(path, p)
		}
	}
	return path
}

// Forwardable reports whether a record of the given origin and HeaderVia
// value may be sent to peer: never to a peer that already held it.
func Forwardable(origin, via, peer string) bool {
	return !slices.Contains(Path(origin, via), peer)
}

// Via is the HeaderVia value a record gets when it is imported from peer
// from: its previous path with from appended (origin first).
func Via(origin, via, from string) string {
	path := Path(origin, via)
	if !slices.Contains(path, from) {
		path = append(path, from)
	}
	return strings.Join(path, ",")
}
