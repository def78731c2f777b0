// Package tlsconf builds Heimdall's TLS configurations: TLS 1.3 only, for the
// API listener and for every outgoing connection (Kafka, Postgres, the OIDC
// provider, peers). A server certificate that is self-signed is refused.
package tlsconf
