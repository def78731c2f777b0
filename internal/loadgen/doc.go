// Package loadgen is a small closed-loop HTTP load generator for benchmarks
// of Heimdall's read API.
//
// Run starts Concurrency workers; each sends one request, reads the whole
// response body, records the latency and sends the next, until Requests
// requests were sent or Duration has passed (a closed loop: the offered load
// adapts to the server, so latencies are those of a server kept exactly
// Concurrency requests busy, and Throughput is what it sustained).
//
// Latency is measured from just before the request is sent until its body
// has been read to the end. Every response counts, whatever its status;
// requests that fail without a response (connection refused, timeouts,
// a broken body) are counted in Errors and have no latency. Percentiles are
// exact: every latency is kept and sorted, which is fine for the few hundred
// thousand requests a benchmark run sends (8 bytes per request), and use the
// nearest-rank definition: Pq is the smallest latency at least q% of the
// samples are at or below.
package loadgen
