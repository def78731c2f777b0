// Package providers builds the enrichment providers a deployment
// configures in one YAML file (HEIMDALL_ENRICH_PROVIDERS), each wrapped in
// the resilience stack of package resilient.
//
// # File format
//
//	providers:
//	  - name: maxmind              # unique; attributes are named "<name>.<attribute>"
//	    type: geoip                # geoip, dns, rdap, http or embedding
//	    kinds: [ipv4-addr, ipv6-addr]  # default: the type's kinds
//	    ttl: 24h                   # how long an answer stands (default 24h)
//	    negative_ttl: 1h           # how long a not-found or failure stands (default 1h)
//	    rate: 50                   # calls per second, never exceeded (default 10)
//	    burst: 5                   # token bucket size (default 1)
//	    concurrency: 4             # calls in flight (default 4)
//	    timeout: 5s                # per call attempt (default 10s)
//	    max_attempts: 4            # retries of retriable failures included (default 4)
//	    max_elapsed: 1m            # retry budget of one job (default 1m)
//	    breaker: {failures: 5, open_for: 30s}
//	    geoip: {databases: [/var/lib/geoip/GeoLite2-City.mmdb, /var/lib/geoip/GeoLite2-ASN.mmdb], reload_every: 30s}
//	  - name: resolver
//	    type: dns
//	    dns: {server: "10.0.0.53:853", server_name: dns.internal}   # DNS over TLS 1.3 only
//	  - name: rdap
//	    type: rdap
//	    rdap: {base_url: "https://rdap.example.net/"}
//	  - name: abuse
//	    type: http
//	    kinds: [ipv4-addr, ipv6-addr]
//	    http:
//	      url: "https://api.example.com/v2/check?ipAddress={value}"
//	      auth_header: Key
//	      auth_env: ABUSE_API_KEY      # the secret comes from the environment, never from the file
//	      fields: {score: data.abuseConfidenceScore, usage: data.usageType}
//	      verdict: {path: data.abuseConfidenceScore, malicious: 75, suspicious: 25}
//	  - name: embed
//	    type: embedding
//	    embedding: {base_url: "https://llm.internal/v1", model: text-embedding-3-small, dimensions: 256, api_key_env: EMBED_KEY}
//
// Every provider talks TLS 1.3 only and trusts the CA bundle of
// HEIMDALL_CA_FILE plus, per provider, an optional ca_file. Unknown keys are
// errors, so a typo never silently disables a setting.
package providers
