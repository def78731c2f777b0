// Package httpjson is the enrichment provider of type "http": a generic
// client of JSON reputation APIs (AbuseIPDB-, VirusTotal-, GreyNoise-style)
// configured without code: a URL template, static headers, an auth header
// whose secret the caller reads from the environment, a mapping of answer
// fields to attributes, and an optional score→verdict rule.
//
// # Requests
//
// One GET (or POST) per lookup, through the *http.Client of the Config (the
// caller builds it TLS 1.3 only). The URL template must be https; {value}
// and {kind} are replaced in its path with url.PathEscape (a value stays
// one path segment: "/", "?", "#" and spaces are escaped, and "." and ".."
// become %2E and %2E%2E) and in its query with url.QueryEscape ("&", "=",
// "+" and spaces are escaped), never in its scheme or host, so no value can
// send the request, and the secret with it, elsewhere. A POST body template
// gets the values JSON-escaped. Redirects are followed only within the same
// origin (Go would forward a custom auth header anywhere).
//
// # Answers
//
// Config.Fields maps attribute names to paths into the JSON answer:
//
//	data.attributes.last_analysis_stats.malicious   members, dotted
//	data.tags.0   data.tags[0]                       an array element
//	data.tags[]   data.tags.*   data.tags[*]         every element
//	results.*.score                                  "*" also walks object members, in key order
//	[0].name                                         into a top-level array
//
// Values become attribute strings: strings trimmed, without control
// characters, cut to 256 bytes; numbers in their shortest decimal form (87,
// 0.5, 1e+21); booleans "true" or "false"; an array at the end of a path one
// attribute per scalar element; objects and nulls nothing. A field yields at
// most 32 values and a result at most 64 attributes. A value that contains
// the auth secret (an API echoing its key) is dropped.
//
// Config.Verdict maps the number at its path (a JSON number or a numeric
// string; the largest if several) to the attribute verdict: malicious at or
// above Malicious, suspicious at or above Suspicious (if non-zero), clean
// below.
//
// The answer is decoded with json.Decoder.UseNumber, at most MaxBody bytes
// (default 1 MiB) and 64 levels deep.
//
// # Not found and failures
//
// A status of Config.NotFoundStatus (default 404) is Result{NotFound:
// true}; so is a 2xx answer that lacks Config.NotFoundPath (missing, null,
// false, 0, "" or empty). Other statuses are classified by
// enrichment.HTTPStatusError: 429 is ClassRateLimited with the Retry-After
// (or quota reset) wait, 401, 403 and other 4xx ClassRejected (a 404 that
// is not a not-found status too), 5xx ClassUnavailable. A body that is too
// large, too deep, not JSON or followed by more data is ClassBadResponse; a
// failed connection ClassUnavailable; a passed deadline ClassTimeout. Quota
// headers (X-RateLimit-Remaining: 0 with X-RateLimit-Reset, or the IETF
// RateLimit-*) on an answer become Result.Pause.
//
// Error reasons are fixed texts: they never quote the value, the URL, the
// answer or the secret, and Config.Validate never quotes the secret either.
package httpjson
