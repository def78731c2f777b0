// Package format defines how Heimdall reads uploads: a Reader streams
// Records out of one input format with bounded memory, locating each record
// (line and byte offset in the decompressed input) and turning a record it
// cannot parse into a Record with a Reject rather than an error. An error
// from Next is reserved for the input as a whole (bad encoding, limits
// exceeded, a truncated compressed stream): the request fails with it.
//
// Subpackages implement formats (ndjson, csv, zeek, eve, cef, ...); package
// decompress unwraps gzip and zstd bodies with size and memory limits; Sniff
// picks a format from the first bytes. Rejects and errors never quote input
// values: they may be personal data. A rejected Record carries its bytes
// apart, in Record.Raw, for the caller to pass through the PII policy.
package format
