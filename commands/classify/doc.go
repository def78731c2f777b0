// Package classify is the command that sets the classification of an
// entity or relation: it appends a classification.changed event keyed by
// the record (so it is applied in log order with the record's other
// events) and an audit.recorded event, and reports success only once the
// log acknowledged both.
package classify
