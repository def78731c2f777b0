// Package enrichment holds the contract between Heimdall's enrichment
// worker (commands/enrich) and the providers it calls (the packages under
// internal/enrichment): what a provider is asked, what it answers, and how
// its failures are classified.
//
// A provider turns one observable (an IP address, a domain name, a text
// value) into context: attributes set on the observable's vertex (country,
// ASN, registration data, reputation verdicts), relations to other
// observables (an IP BELONGS_TO an autonomous system, a domain RESOLVES_TO an
// IP), or an embedding vector. Providers are plain clients: rate limits,
// retries, the circuit breaker, timeouts and concurrency limits are added
// around them by package resilient, so every provider gets the same
// behaviour. A provider only classifies its failures (see Error) and passes
// on what the remote service said about pacing (Retry-After, quota headers).
//
// Values handed to a provider are never personal: the worker only sends
// values whose canonical key is the record key itself (a pseudonymised
// observable's key is derived from its pseudonym, so it never qualifies).
package enrichment
