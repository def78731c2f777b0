// Package rdap is the enrichment provider of type "rdap": registration data
// of IP networks, domains and autonomous systems from one RDAP service
// (RFC 7480 transport, RFC 9082 queries, RFC 9083 responses).
//
// A lookup is one GET of {BaseURL}/ip/{address}, {BaseURL}/domain/{name} or
// {BaseURL}/autnum/{number} with Accept: application/rdap+json, through the
// *http.Client of the Config (the caller builds it TLS 1.3 only). Redirects
// (RDAP bootstrap services answer with them) are followed up to five times,
// to https URLs only.
//
// # What is taken
//
// Only organisational, non-personal facts. RDAP answers carry contacts'
// vCards (names, e-mail addresses, phone numbers, postal addresses of
// registrants, administrative, technical and abuse contacts); none of them
// is ever read, except:
//
//   - the "fn" of the top-level entity with role "registrar" of a domain
//     (attribute registrar), unless its vCard says kind "individual";
//   - the "fn" of the top-level entity with role "registrant" of an IP
//     network, only when its vCard says kind "org" (attribute org).
//
// Attributes (names as the worker stores them, before the provider prefix):
//
//	handle           the object's handle
//	name             the network's or AS's name; for a domain its ldhName
//	type             the network's or AS's type (ALLOCATED PA, DIRECT ALLOCATION…)
//	country          two-letter country code, upper case
//	start_address    first address of the network
//	end_address      last address of the network
//	cidr             each prefix of cidr0_cidrs (RFC 9083 extension cidr0)
//	parent_handle    the parent network's handle
//	status           each status value (active, client transfer prohibited…)
//	registered_at    the "registration" event's date, RFC 3339 in UTC
//	last_changed_at  the "last changed" event's date, RFC 3339 in UTC
//	registrar        domains: the registrar's name
//	nameserver       domains: each name server's ldhName
//	org              IP networks: the registrant organisation's name
//
// For a domain every name server is also a relation HAS_NAMESERVER to the
// domain-name observable of the server. Result.Version is "rdap".
//
// Text values are trimmed, stripped of control characters and capped at 256
// bytes; addresses, prefixes, dates and names are checked and written in
// canonical form, and values that do not parse are dropped. Repeated values
// are capped (16 of cidr, status, nameserver).
//
// # Failures
//
// A 404 is Result{NotFound: true}. Other statuses are classified by
// enrichment.HTTPStatusError (429 with its Retry-After is ClassRateLimited,
// 5xx ClassUnavailable, other 4xx ClassRejected). A body over MaxBody, nested
// deeper than 64 levels, not JSON, or not an RDAP object of the asked class
// is ClassBadResponse; a failed connection is ClassUnavailable and a passed
// deadline ClassTimeout. Quota headers on an answer become Result.Pause.
// Error reasons are fixed texts: they never quote the looked-up value, the
// URL or the answer.
package rdap
