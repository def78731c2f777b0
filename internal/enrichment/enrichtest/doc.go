// Package enrichtest serves local stand-ins for external enrichment
// providers in tests: TLS 1.3 servers whose certificates a throwaway CA
// signs (never self-signed), and a client configuration that trusts it.
package enrichtest
