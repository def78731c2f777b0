// Package devstack reads the development stack's settings for tests.
//
// `make stack-up` starts the real services (PostgreSQL with AGE and pgvector,
// Kafka, the development OpenID Provider, all behind TLS 1.3 with certificates
// from the development CA) and writes their settings to .stack/env as
// HEIMDALL_* variables. Tests call Env, which reads those variables and fails
// the test — it never skips it — when the stack is not up:
//
//	stack := devstack.Env(t)
//	token := stack.TokenForClient(t, devstack.ClientCLI)       // client_credentials
//	alice := stack.TokenForUser(t, devstack.UserAlice)         // code flow + PKCE via the login form
//	resp, err := stack.HTTPClient().Get(...)                   // TLS 1.3, dev CA
//
// Client secrets, user passwords and the provider's admin token are read
// from the provider's own configuration, deploy/idp/config.yaml, found from
// the module root, so there is one source of truth.
//
// This package is test support: it is imported by _test.go files only.
package devstack
