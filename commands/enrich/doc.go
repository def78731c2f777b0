// Package enrich is the enrichment worker: the write-side process that
// follows the event log, decides which observables need context from which
// provider, calls the providers and appends every answer, or classified
// failure, as an enrichment.recorded event.
//
// # What gets enriched
//
// An entity.observed event (or an endpoint of a relation.observed event)
// whose kind a provider accepts becomes a job for that provider, unless the
// provider answered about the record within its TTL (a fresh result, a
// cache hit) or a job for it is already open (the store allows one open job
// per record and provider). Only values that are not personal are sent: the
// value's canonical key must be the record key (a personal observable's key
// is derived from its pseudonym, never from its value). An
// enrichment.requested event (POST /v1/enrichments) makes jobs that ignore
// the TTL. Observables that enrichments themselves introduce (an autonomous
// system, a PTR name) are not enriched in turn, so enrichment never crawls.
//
// # Exactly one result per job, across crashes
//
// The worker's consumer stores its offsets in the same transaction as the
// jobs a batch creates, so an observation is never lost between the log and
// the job table (the durable backlog). A dispatcher per provider claims jobs
// (a lease, an owner), calls the provider through the resilience stack,
// appends the result and waits for the broker's acknowledgement, then
// completes the job. The consumer also reads the results back from the log
// and completes their jobs. A job left in flight by a crash (kill -9) is
// retried only after the consumer has read the log up to the end offsets
// taken after the crash: if the result had been appended, the consumer
// completes the job first, so no record is enriched twice within its TTL;
// if not, the job runs again, so none loses its enrichment.
//
// # Backpressure and poison records
//
// The consumer stops taking new work while the pending backlog is at its
// bound. A provider failure is final for a job once the resilience stack
// gives up (retries exhausted, or a non-retriable class): it is recorded as
// a failed enrichment with its class and cached for the negative TTL, and
// the job is done, so nothing blocks a partition. While a provider's
// circuit breaker is open, jobs wait (deferred) instead of failing, up to a
// bound, after which they are recorded as failed too.
package enrich
