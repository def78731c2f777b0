package format

import (
	"errors"
	"fmt"
)

// Record is one input record.
type Record struct {
	// Line is the 1-based line number where the record starts.
	Line int64
	// Offset is the byte offset of the record's first byte in the
	// decompressed input.
	Offset int64
	// Fields holds the parsed record. Values are string, json.Number (numbers
	// keep their exact text), bool, nil, []any or map[string]any. Formats
	// with a schema (Zeek) convert by type: sets and vectors become []any,
	// unset fields are absent, empty containers are empty slices.
	Fields map[string]any
	// Meta carries format facts the mapping uses to choose a profile, for
	// example "zeek.path" = "conn" or "eve.event_type" = "dns".
	Meta map[string]string
	// Reject is set when the record could not be parsed; Fields is then nil.
	Reject *Reject
	// Raw is set only on a rejected record: a copy of the record's input
	// bytes (without the line ending), cut to Limits.MaxRejectRaw bytes
	// (RawTruncated then set); nil when the bytes were not kept (a line
	// over the line limit is discarded unread, and so is a delimited record
	// or JSON array element over Limits.MaxRecordBytes). A record that spans
	// lines (a delimited record with quoted line breaks, a pretty-printed
	// JSON array element) keeps all its bytes, inner line breaks included.
	// It may hold personal data: pass it through the PII policy, never log
	// or echo it.
	Raw []byte
	// RawTruncated is set when Raw holds only the first
	// Limits.MaxRejectRaw bytes of the record.
	RawTruncated bool
}

// Reject says why a record was not accepted. Code is stable and
// machine-readable; Reason is for people. Neither quotes input values.
type Reject struct {
	Code   string
	Reason string
}

func (r *Reject) Error() string { return r.Code + ": " + r.Reason }

// Rejectf builds a Reject.
func Rejectf(code, format string, args ...any) *Reject {
	return &Reject{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// Reader streams the records of one input. Next returns io.EOF after the
// last record, a *Failure for a problem with the input as a whole, and
// otherwise a Record (possibly a rejected one).
type Reader interface {
	Next() (Record, error)
}

// Failure is a whole-input error (the ingest request fails with a
// problem+json naming Code). It never quotes input.
type Failure struct {
	Code   string // for example too_large, bad_encoding, truncated, decompression_bomb, unsupported_format
	Reason string
	Err    error // the underlying error, for logs; may be nil
}

func (f *Failure) Error() string { return f.Code + ": " + f.Reason }

func (f *Failure) Unwrap() error { return f.Err }

// Failf builds a Failure.
func Failf(code string, err error, format string, args ...any) *Failure {
	return &Failure{Code: code, Reason: fmt.Sprintf(format, args...), Err: err}
}

// IsFailure reports whether err is a whole-input failure.
func IsFailure(err error) bool {
	var f *Failure
	return errors.As(err, &f)
}

// Limits bound what one input may cost. Zero values mean the defaults.
type Limits struct {
	MaxLineBytes   int // longest line or record (default 1 MiB)
	MaxFieldBytes  int // longest field value (default 256 KiB)
	MaxFields      int // most fields in one record (default 1024)
	MaxDepth       int // deepest JSON nesting (default 64)
	MaxRecordBytes int // largest multi-line record, e.g. quoted CSV fields with newlines (default 4 MiB)
	MaxRejectRaw   int // most bytes of a rejected record kept in Record.Raw (default 4 KiB; negative: none)
}

// WithDefaults fills zero limits.
func (l Limits) WithDefaults() Limits {
	if l.MaxLineBytes <= 0 {
		l.MaxLineBytes = 1 << 20
	}
	if l.MaxFieldBytes <= 0 {
		l.MaxFieldBytes = 256 << 10
	}
	if l.MaxFields <= 0 {
		l.MaxFields = 1024
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 64
	}
	if l.MaxRecordBytes <= 0 {
		l.MaxRecordBytes = 4 << 20
	}
	if l.MaxRejectRaw == 0 {
		l.MaxRejectRaw = 4 << 10
	}
	return l
}
