// Package classify is the command that sets the classification of an
// entity or relation: it appends a classification.changed event keyed by
// the record (so it is applied in log order with the record's other
// events) and an audit.recorded event, and reports success only once the
// log acknowledged both.
//
// A change supersedes the record's current reclassification as the read
// model holds it (Current): its HLC is greater than the current winner's
// and its version vector is the current winner's merged with this peer's
// new entry. So a change made after seeing another dominates it, and the
// projection's last-writer-wins rule by HLC agrees with causality; two
// changes are concurrent (a conflict the projection records) only when
// neither was made after seeing the other. When the read model cannot be
// read the command fails (ErrReadModelUnavailable) rather than append a
// change without its causal past.
package classify
