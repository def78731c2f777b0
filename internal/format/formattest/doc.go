// Package formattest holds the contract tests every format.Reader must
// pass, in the style of a pub/sub test suite: a format package describes
// its reader once, as a Case, and calls Contract from a test, CheckInput
// from its fuzz target and CheckReader wherever it reads input in its own
// tests.
//
// The contract (see CheckReader) is:
//
//   - Next never panics and ends with io.EOF or a *format.Failure with a
//     code and a reason, and that end is sticky;
//   - every record has Line >= 1 and Offset >= 0, both strictly increasing,
//     Offset at the start of line Line of the input;
//   - a record has Fields or a Reject, never both, and a Reject has a code
//     and a short reason;
//   - a rejected record carries its line in Raw, cut to
//     Limits.MaxRejectRaw bytes (RawTruncated then set), unless it is
//     line_too_long or MaxRejectRaw is negative; an accepted one has no
//     Raw (CheckReader and CheckRaw on any input, CheckRejectRaw on a
//     reader's chosen good and bad lines);
//   - field keys and string values are UTF-8, numbers are valid JSON, and
//     values have only the documented types;
//   - every input line up to the end (or, after a Failure, up to the last
//     record) is a record or a documented skip: nothing is dropped
//     silently;
//   - a line far over the line limit is a line_too_long reject read in
//     bounded memory (CheckLongLineBounded).
//
// BenchReader and Repeat are the shared skeleton of the readers'
// benchmarks.
//
// The package imports testing and is meant for _test.go files only.
package formattest
