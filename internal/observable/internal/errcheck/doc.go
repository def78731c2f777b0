// Package errcheck holds a test helper shared by the observable packages: it
// checks that an error message cannot carry the input that caused it.
//
// Every error message in the observable packages is built from fixed text
// only. The helper enforces that mechanically: a message may only contain
// bytes from a small "safe" alphabet (ASCII letters, digits, space and
// " .,:;()/-_'"). Any input that contains a byte outside that alphabet can
// therefore never appear in a message, and fuzzers generate such inputs all
// the time. For inputs made only of safe bytes, long inputs are additionally
// checked for verbatim containment.
package errcheck
