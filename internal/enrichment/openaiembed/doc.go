// Package openaiembed is the enrichment provider of type "embedding": a
// vector per value from an OpenAI-compatible embeddings endpoint (OpenAI,
// Azure-style gateways, vLLM, Ollama, LiteLLM, text-embeddings-inference).
// It is optional and off unless a deployment configures it.
//
// A lookup is one POST to {BaseURL}/embeddings through the *http.Client of
// the Config (the caller builds it TLS 1.3 only), with
//
//	{"model": "<Model>", "input": "<value>", "encoding_format": "float"}
//
// plus "dimensions": <Dimensions> when SendDimensions is set, and
// "Authorization: Bearer <APIKey>" when a key is configured. The answer
//
//	{"data": [{"embedding": [0.0123, -0.045, …], "index": 0}], "model": "…"}
//
// must hold exactly one embedding of exactly Dimensions finite numbers
// (each representable as a float32, not all zero); anything else is
// ClassBadResponse. The result is Result{Vector, Version: Model,
// Attributes: [embedding_model=Model]}. Values longer than 8 KiB are
// rejected, not truncated. Redirects are followed only within the same
// origin.
//
// Failures: a 404 is ClassRejected, not NotFound (every text has an
// embedding; a 404 means a wrong base URL or an unknown model); 429 is
// ClassRateLimited with the Retry-After or quota-reset wait (OpenAI's
// x-ratelimit-remaining-requests/-tokens 0 with x-ratelimit-reset-… as
// well); 401, 403 and other 4xx ClassRejected; 5xx ClassUnavailable; a body
// over MaxBody (default 1 MiB) or nested deeper than 16 levels
// ClassBadResponse; a failed connection ClassUnavailable; a passed
// deadline ClassTimeout. Quota headers on a successful answer become
// Result.Pause. Error reasons are fixed texts that never quote the value,
// the URL, the answer or the key.
package openaiembed
