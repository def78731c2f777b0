// Package formatgen generates equivalent inputs in every format Heimdall
// reads, for benchmarks and tests: the same connection records written as
// NDJSON, CSV, Zeek conn.log, Suricata EVE flow events and CEF.
package formatgen
